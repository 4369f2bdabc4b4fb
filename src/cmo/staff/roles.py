"""Stop-gap until the shell reads role grants from the registry: one group per role of
``StaffConfig.domain.grants`` gets exactly this app's permissions listed there (post_migrate).
The lead drops this module when the registry wiring lands."""

from __future__ import annotations

from typing import Any


def ensure_grants(**_: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    from cmo.staff.apps import StaffConfig

    mine = {p.codename: p for p in Permission.objects.filter(content_type__app_label="staff")}
    for role, codenames in StaffConfig.domain.grants.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.remove(*mine.values())
        group.permissions.add(*(mine[c] for c in codenames if c in mine))
