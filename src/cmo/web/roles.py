"""Roles are Django groups; each is a set of capabilities (``web.Capability`` permissions).

ARCHITECTURE.md §7: board members see aggregates only; a department chair sees patients and
practitioners of their own departments (``Profile.departments``); every look at patient data
is logged (``cmo.web.audit``). The compliance role reads the access log and nothing clinical.
"""

from __future__ import annotations

from typing import Any

DASHBOARD = "view_dashboard"
PRACTITIONERS = "view_practitioners"
PATIENTS = "view_patients"
DATA_STATUS = "view_data_status"
ACCESS_LOG = "view_access_log"

# role -> (label, capabilities). The permission-matrix test is generated from this table.
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cmo": ("Chief Medical Officer", (DASHBOARD, PRACTITIONERS, PATIENTS, DATA_STATUS, ACCESS_LOG)),
    "quality_analyst": ("Quality analyst", (DASHBOARD, PRACTITIONERS, PATIENTS, DATA_STATUS)),
    "medical_staff_office": ("Medical staff office", (DASHBOARD, PRACTITIONERS)),
    "department_chair": ("Department chair", (DASHBOARD, PRACTITIONERS, PATIENTS)),
    "safety_officer": ("Patient safety officer", (DASHBOARD, PATIENTS)),
    "clinician": ("Clinician", (DASHBOARD,)),
    "board_member": ("Board member", (DASHBOARD,)),
    "compliance": ("Compliance officer", (ACCESS_LOG,)),
}
SCOPED_ROLES = ("department_chair",)


def perm(capability: str) -> str:
    """``"view_patients"`` -> ``"web.view_patients"`` for ``user.has_perm``."""
    return f"web.{capability}"


def ensure_roles(**_: Any) -> None:
    """Create or update one group per role with exactly its capabilities (post_migrate hook)."""
    from django.contrib.auth.models import Group, Permission

    perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="web")}
    from cmo.web.registry import domains

    for role, (_label, caps) in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        granted = [perms[c] for c in caps if c in perms]
        for d in domains():  # until the shell reads the registry: the domains' grants
            granted += Permission.objects.filter(
                content_type__app_label=d.name, codename__in=d.grants.get(role, ())
            )
        group.permissions.set(granted)


def role_of(user: Any) -> str | None:
    """The user's first role (group) name, for display."""
    if not user.is_authenticated:
        return None
    names = [g.name for g in user.groups.all() if g.name in ROLES]
    return names[0] if names else ("admin" if user.is_superuser else None)


def departments_of(user: Any) -> list[str] | None:
    """Department scope: None = every department; a list = only these (chairs)."""
    if user.is_superuser or not user.groups.filter(name__in=SCOPED_ROLES).exists():
        return None
    profile = getattr(user, "cmo_profile", None)
    return list(profile.departments) if profile else []


def context_processor(request: Any) -> dict[str, Any]:
    """Navigation needs: which links this user may follow."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    return {
        "cmo_role": role,
        "cmo_role_label": ROLES[role][0] if role in ROLES else (role or "no role"),
        "can": {c: user.has_perm(perm(c)) for c in (DASHBOARD, PATIENTS, DATA_STATUS, ACCESS_LOG)},
    }
