"""Roles are Django groups; each is a set of capabilities (Django permissions).

The shell owns the roles every health system has and its own capabilities (data status, access
log); each domain app brings its capabilities as permissions of its own app, says which roles
hold them (``Domain.grants``) and may bring new roles (``Domain.roles``). ``ensure_roles`` (a
post_migrate hook) assembles the groups from all of them, so the core names no domain.

ARCHITECTURE.md §7: board members see aggregates only; a department chair sees patients and
practitioners of their own departments (``cmo.web.scope``); every look at patient data is
logged (``cmo.web.audit``). The compliance role reads the access log and nothing clinical.
"""

from __future__ import annotations

from typing import Any

from cmo.web.registry import domains

DATA_STATUS = "view_data_status"
ACCESS_LOG = "view_access_log"
QUARANTINE_TEXT = "view_quarantine_text"
UNLOCK = "unlock_accounts"

# The core's roles: role -> (label, the core's own capabilities). Domains add theirs.
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cmo": ("Chief Medical Officer", (DATA_STATUS, QUARANTINE_TEXT, ACCESS_LOG, UNLOCK)),
    "quality_analyst": ("Quality analyst", (DATA_STATUS, QUARANTINE_TEXT)),
    "medical_staff_office": ("Medical staff office", ()),
    "department_chair": ("Department chair", ()),
    "safety_officer": ("Patient safety officer", ()),
    "clinician": ("Clinician", ()),
    "board_member": ("Board member", ()),
    "compliance": ("Compliance officer", (ACCESS_LOG,)),
}
# Roles limited to their departments' rows, and roles that see de-identified aggregates only.
SCOPED_ROLES = ("department_chair",)
DEIDENTIFIED_ROLES = ("board_member",)
# The core's own landing pages (a domain's ``landing`` comes first).
CORE_LANDING = {"compliance": "access_log"}
# Content type that carries a domain's capabilities when its app has no model declaring them.
CAPABILITY_MODEL = "capability"


def perm(capability: str) -> str:
    """``"view_access_log"`` -> ``"web.view_access_log"``; ``"app.codename"`` stays as it is."""
    return capability if "." in capability else f"web.{capability}"


def all_roles() -> dict[str, str]:
    """Every role (core and domain-brought) -> its label."""
    roles = {name: label for name, (label, _caps) in ROLES.items()}
    for domain in domains():
        for name, label in domain.roles.items():
            roles.setdefault(name, label)
    return roles


def grants() -> dict[str, set[str]]:
    """role -> the permissions (``app.codename``) it holds, from the core and every domain."""
    held: dict[str, set[str]] = {role: set() for role in all_roles()}
    for role, (_label, caps) in ROLES.items():
        held[role].update(perm(c) for c in caps)
    for domain in domains():
        declared = {code for code, _ in domain.capabilities}
        for role, codes in domain.grants.items():
            unknown = set(codes) - declared
            if unknown or role not in held:
                what = f"capabilities {sorted(unknown)}" if unknown else f"role {role!r}"
                raise RuntimeError(f"domain {domain.name!r} grants unknown {what}")
            held[role].update(f"{domain.name}.{c}" for c in codes)
    return held


def ensure_domain_permissions() -> None:
    """Create (or rename) each domain's capabilities as permissions of its app."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    for domain in domains():
        if not domain.capabilities:
            continue
        ctype, _ = ContentType.objects.get_or_create(app_label=domain.name, model=CAPABILITY_MODEL)
        for codename, description in domain.capabilities:
            found = Permission.objects.filter(
                content_type__app_label=domain.name, codename=codename
            ).first()
            if found is None:
                Permission.objects.create(content_type=ctype, codename=codename, name=description)
            elif found.name != description:
                found.name = description
                found.save(update_fields=["name"])


def ensure_roles(**_: Any) -> None:
    """Create or update one group per role with exactly its capabilities (post_migrate hook)."""
    from django.contrib.auth.models import Group, Permission

    ensure_domain_permissions()
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role, held in grants().items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[p] for p in sorted(held) if p in by_name])


def role_of(user: Any) -> str | None:
    """The user's first role (group) name, for display."""
    if not user.is_authenticated:
        return None
    known = all_roles()
    names = [g.name for g in user.groups.all() if g.name in known]
    return names[0] if names else ("admin" if user.is_superuser else None)


def landing(user: Any) -> str | None:
    """URL name of the page the user's role lands on: the first domain's, else the core's,
    else the first navigation entry the user may follow."""
    role = role_of(user)
    for domain in domains():
        if role is not None and role in domain.landing:
            return domain.landing[role]
    if role in CORE_LANDING:
        return CORE_LANDING[role]
    entries = nav_for(user)
    return entries[0]["url_name"] if entries else None


def nav_for(user: Any) -> list[dict[str, Any]]:
    """The registered navigation entries this user may follow, in display order."""
    items = [(d.order, item.order, item) for d in domains() for item in d.nav]
    return [
        {"label": item.label, "url_name": item.url_name}
        for _o, _i, item in sorted(items, key=lambda t: (t[0], t[1]))
        if item.permission is None or user.has_perm(item.permission)
    ]


def context_processor(request: Any) -> dict[str, Any]:
    """Navigation needs: the user's role and the links this user may follow."""
    from django.urls import NoReverseMatch, reverse

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    current = getattr(getattr(request, "resolver_match", None), "view_name", None)
    nav = []
    for entry in nav_for(user):
        try:
            url = reverse(entry["url_name"])
        except NoReverseMatch:  # a domain whose URLs are not mounted (a misconfiguration)
            continue
        nav.append({**entry, "url": url, "current": entry["url_name"] == current})
    labels = all_roles()
    return {
        "cmo_role": role,
        "cmo_role_label": labels.get(role or "", role or "no role"),
        "cmo_nav": nav,
        "can": {c: user.has_perm(perm(c)) for c in (DATA_STATUS, ACCESS_LOG, UNLOCK)},
        "can_api": any(user.has_perm(p) for p in _api_permissions()),
    }


def _api_permissions() -> set[str]:
    """Any capability of a domain with an API opens the API link."""
    return {f"{d.name}.{code}" for d in domains() if d.api for code, _ in d.capabilities}
