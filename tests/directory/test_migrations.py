"""Upgrading an app database from before the directory: a chair's department list (strings on
the web profile) becomes directory links, and the quality capabilities move from the web app to
the quality app with the groups and users that hold them."""

from __future__ import annotations

import pytest

BEFORE = [
    ("web", "0002_profile_must_change_password"),
    ("directory", "0001_initial"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]
OLD = [*BEFORE[:2], ("quality", None)]


@pytest.mark.django_db(transaction=True)
def test_upgrade_keeps_chair_departments_and_quality_grants() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(OLD)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="old_chair")
    old.get_model("web", "Profile").objects.create(user=user, departments=["D-OLD", "D-CAR"])
    old.get_model("directory", "Department").objects.create(code="D-CAR", name="Cardiology")
    web_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="web", model="capability"
    )[0]
    # (Unapplying quality's migration already moved its permissions back to the web app.)
    patients = old.get_model("auth", "Permission").objects.get_or_create(
        content_type=web_type, codename="view_patients", defaults={"name": "See patient rows"}
    )[0]
    user.user_permissions.add(patients)

    upgrade = MigrationExecutor(connection)
    upgrade.migrate(latest)
    from django.contrib.auth.models import Permission, User

    from cmo.directory.models import Department, UserScope

    scope = UserScope.objects.get(user__username="old_chair")
    assert sorted(scope.departments.values_list("code", flat=True)) == ["D-CAR", "D-OLD"]
    assert Department.objects.get(code="D-OLD").source == "manual"  # placeholder for the sync
    assert Department.objects.get(code="D-CAR").name == "Cardiology"  # the existing row
    moved = Permission.objects.get(pk=patients.pk)
    assert moved.content_type.app_label == "quality"
    assert User.objects.get(username="old_chair").has_perm("quality.view_patients")
