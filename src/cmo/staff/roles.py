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


def assign_departments(user: Any, codes: list[str]) -> None:
    """Limit a chair to these department codes: through the directory's scope source where the
    shell has one (``cmo.directory.scope``), else the profile list the shell had before it."""
    try:
        from cmo.directory.scope import source  # type: ignore[import-not-found]
    except ImportError:
        from cmo.web.models import Profile

        Profile.objects.update_or_create(user=user, defaults={"departments": codes})
    else:
        source.assign(user, codes)
