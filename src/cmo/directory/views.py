"""Directory pages: practitioners (filter by department, site, active) and one practitioner
with their memberships. Limited to the user's scope; practitioner names are not patient data,
so these pages write no access-log rows."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cmo.directory.apps import VIEW
from cmo.directory.models import Department, Practitioner, Site
from cmo.web.access import capability_required
from cmo.web.scope import scope_of

PAGE = 50
ACTIVE = {"": None, "yes": True, "no": False}


def filtered(params: Any, queryset: QuerySet[Practitioner]) -> QuerySet[Practitioner]:
    """Practitioners filtered by ``department`` / ``site`` codes, ``active``, ``q`` (name or
    NPI); shared by the page and the API."""
    if params.get("department"):
        queryset = queryset.filter(memberships__department__code=params["department"])
    if params.get("site"):
        queryset = queryset.filter(memberships__department__site__code=params["site"])
    active = ACTIVE.get(params.get("active") or "")
    if active is not None:
        queryset = queryset.filter(active=active)
    q = (params.get("q") or "").strip()
    if q:
        queryset = queryset.filter(name__icontains=q) | queryset.filter(npi=q)
    return queryset.distinct()


@capability_required(VIEW)
def practitioners(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request.user)
    qs = filtered(request.GET, Practitioner.objects.restrict(scope)).prefetch_related(
        "memberships__department"
    )
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "directory/practitioners.html",
        {
            "page": page,
            "departments": Department.objects.restrict(scope).filter(active=True),
            "sites": Site.objects.restrict(scope).filter(active=True),
            "f": {k: request.GET.get(k, "") for k in ("department", "site", "active", "q")},
            "limited": scope.limited,
        },
    )


@capability_required(VIEW)
def practitioner(request: HttpRequest, code: str) -> HttpResponse:
    found = Practitioner.objects.restrict(scope_of(request.user)).filter(code=code).first()
    if found is None:
        raise Http404("no such practitioner in your scope")
    memberships = found.memberships.select_related("department__site")
    return render(request, "directory/practitioner.html", {"p": found, "memberships": memberships})
