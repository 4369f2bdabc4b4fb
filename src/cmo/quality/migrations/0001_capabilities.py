"""The quality capabilities move from the web app to the quality app.

Existing permission rows are re-pointed (so groups and any user-level grants keep them); on a
new database there is nothing to move and ``cmo.web.roles.ensure_roles`` creates them.
"""

from django.db import migrations

MOVED = ("view_dashboard", "view_practitioners", "view_patients")


def move(apps, schema_editor):  # type: ignore[no-untyped-def]
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    target, _ = content_type.objects.get_or_create(app_label="quality", model="capability")
    permission.objects.filter(content_type__app_label="web", codename__in=MOVED).update(
        content_type=target
    )


def back(apps, schema_editor):  # type: ignore[no-untyped-def]
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    web, _ = content_type.objects.get_or_create(app_label="web", model="capability")
    permission.objects.filter(content_type__app_label="quality", codename__in=MOVED).update(
        content_type=web
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("web", "0002_profile_must_change_password"),
    ]

    operations = [migrations.RunPython(move, back)]
