"""cmo.web.scope: one Scope per user, built from roles and the directory's user scope."""

from __future__ import annotations

from typing import Any

import pytest

from demo_warehouse import CHAIR_DEPARTMENTS


@pytest.mark.django_db
def test_scope_of_each_role(role_users: dict[str, Any]) -> None:
    from cmo.web.scope import scope_of

    chair = scope_of(role_users["department_chair"])
    assert chair.departments == CHAIR_DEPARTMENTS and chair.sites is None and chair.limited
    assert chair.can("quality.view_patients") and not chair.can("view_access_log")
    cmo = scope_of(role_users["cmo"])
    assert cmo.departments is None and not cmo.limited and not cmo.deidentified
    assert cmo.can("view_access_log") and cmo.can("directory.view_directory")
    board = scope_of(role_users["board_member"])
    assert board.deidentified and not board.can("quality.view_practitioners")
    assert not scope_of(role_users["compliance"]).deidentified


@pytest.mark.django_db
def test_restrict_fails_closed_for_a_model_without_a_scope_path(
    role_users: dict[str, Any],
) -> None:
    from cmo.web.models import AccessLog
    from cmo.web.scope import scope_of

    AccessLog.objects.create(username="x", page="/")
    chair = scope_of(role_users["department_chair"])
    assert chair.restrict(AccessLog.objects.all()).count() == 0
    assert scope_of(role_users["cmo"]).restrict(AccessLog.objects.all()).count() == 1


@pytest.mark.django_db
def test_site_scope_limits_by_site(role_users: dict[str, Any]) -> None:
    from cmo.directory.models import Department, Site
    from cmo.directory.scope import source
    from cmo.web.scope import scope_of

    north = Site.objects.create(code="S1", name="North")
    Site.objects.create(code="S2", name="South")
    Department.objects.filter(code=CHAIR_DEPARTMENTS[0]).update(site=north)
    Department.objects.create(code="D-S2", name="South medicine", site=Site.objects.get(code="S2"))
    chair = role_users["department_chair"]
    source.assign(chair, [], sites=["S2"])
    scope = scope_of(chair)
    assert scope.departments == [] and scope.sites == ["S2"]
    assert [d.code for d in Department.objects.restrict(scope)] == ["D-S2"]
