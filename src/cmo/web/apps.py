from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WebConfig(AppConfig):
    name = "cmo.web"
    label = "web"
    verbose_name = "cmo web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cmo.web import vendor
        from cmo.web.middleware import remember_password_flag
        from cmo.web.roles import ensure_roles

        # Roles are data: every migrate (re)creates the groups and their permissions.
        post_migrate.connect(ensure_roles, sender=self)
        user_logged_in.connect(remember_password_flag, dispatch_uid="cmo_password_flag")
        from axes.signals import user_locked_out

        from cmo.web.audit import on_lockout

        user_locked_out.connect(on_lockout, dispatch_uid="cmo_lockout_log")
        vendor.ensure_bundle()
