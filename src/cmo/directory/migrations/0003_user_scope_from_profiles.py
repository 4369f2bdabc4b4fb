"""Chairs' department lists move from ``web.Profile.departments`` (strings) to
``directory.UserScope`` (links to directory departments), before web drops the old field.

A department code the directory has not seen yet gets a placeholder row (source manual) that the
next sync fills in, so an existing chair keeps exactly the departments they had.
"""

from django.db import migrations


def copy(apps, schema_editor):  # type: ignore[no-untyped-def]
    profile = apps.get_model("web", "Profile")
    department = apps.get_model("directory", "Department")
    user_scope = apps.get_model("directory", "UserScope")
    for p in profile.objects.all():
        codes = [str(c) for c in p.departments or []]
        if not codes:
            continue
        rows = [
            department.objects.get_or_create(code=c, defaults={"name": c, "source": "manual"})[0]
            for c in codes
        ]
        scope, _ = user_scope.objects.get_or_create(user_id=p.user_id)
        scope.departments.add(*rows)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0002_user_scope"),
        ("web", "0002_profile_must_change_password"),
    ]
    # The copy must read the old field before web removes it.
    run_before = [("web", "0003_core_capabilities_scope_moved")]

    operations = [migrations.RunPython(copy, migrations.RunPython.noop)]
