"""Directory endpoints of the API (``/api/directory/``): practitioners, departments, sites.

Scoped like the pages (a chair sees their departments' practitioners); no patient data, so no
access-log rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import Http404
from ninja import Field, Query, Router, Schema

from cmo.directory.apps import VIEW
from cmo.directory.models import Department, Membership, Practitioner, Site
from cmo.directory.views import filtered
from cmo.web.access import require
from cmo.web.scope import scope_of

router = Router(tags=["directory"])
LIMIT = 500


class SiteOut(Schema):
    code: str
    name: str
    active: bool
    source: str


class DepartmentOut(SiteOut):
    site: str | None = None


class MembershipOut(Schema):
    department: str
    department_name: str
    start: date | None = None
    end: date | None = None
    primary: bool
    last_seen: date | None = None


class PractitionerOut(Schema):
    code: str
    npi: str | None = None
    name: str
    family_name: str
    given_name: str
    specialty: str
    active: bool
    source: str
    memberships: list[MembershipOut]


class PractitionerFilter(Schema):
    # Bounded: a request value never reaches the database unchecked (a 10^20 offset overflowed
    # SQLite's integer; a negative one is no slice).
    department: str | None = Field(None, max_length=128)
    site: str | None = Field(None, max_length=128)
    active: Literal["yes", "no", ""] = ""
    q: str | None = Field(None, max_length=200)
    limit: int = Field(LIMIT, ge=1, le=LIMIT, description=f"1 to {LIMIT} rows")
    offset: int = Field(0, ge=0, le=1_000_000)


def _membership(m: Membership) -> dict[str, Any]:
    return {
        "department": m.department.code,
        "department_name": m.department.name,
        "start": m.start,
        "end": m.end,
        "primary": m.primary,
        "last_seen": m.last_seen,
    }


def _practitioner(p: Practitioner) -> dict[str, Any]:
    fields = ("code", "npi", "name", "family_name", "given_name", "specialty", "active", "source")
    return {f: getattr(p, f) for f in fields} | {
        "memberships": [_membership(m) for m in p.memberships.all()]
    }


def _site_code(entry: Department) -> str | None:
    return entry.site.code if entry.site else None


@router.get("/practitioners", response=list[PractitionerOut], summary="Practitioners")
def practitioners(request: Any, filters: Query[PractitionerFilter]) -> list[dict[str, Any]]:
    require(request, VIEW)
    limit = filters.limit
    qs = filtered(filters.dict(), Practitioner.objects.restrict(scope_of(request.user)))
    qs = qs.prefetch_related("memberships__department")
    return [_practitioner(p) for p in qs[filters.offset : filters.offset + limit]]


@router.get(
    "/practitioners/{code}", response=PractitionerOut, summary="One practitioner with memberships"
)
def practitioner(request: Any, code: str) -> dict[str, Any]:
    require(request, VIEW)
    found = Practitioner.objects.restrict(scope_of(request.user)).filter(code=code).first()
    if found is None:
        raise Http404("no such practitioner in your scope")
    return _practitioner(found)


@router.get("/departments", response=list[DepartmentOut], summary="Departments")
def departments(request: Any) -> list[dict[str, Any]]:
    require(request, VIEW)
    qs = Department.objects.restrict(scope_of(request.user)).select_related("site")
    return [
        {"code": d.code, "name": d.name, "active": d.active, "source": d.source}
        | {"site": _site_code(d)}
        for d in qs
    ]


@router.get("/sites", response=list[SiteOut], summary="Sites")
def sites(request: Any) -> list[dict[str, Any]]:
    require(request, VIEW)
    qs = Site.objects.restrict(scope_of(request.user))
    return [{"code": s.code, "name": s.name, "active": s.active, "source": s.source} for s in qs]
