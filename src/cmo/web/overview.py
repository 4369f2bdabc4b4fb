"""The overview page (``/overview/``): every domain's tiles that the user may see, in one
place, what needs attention first. The shell imports no domain: each domain declares its
``Domain.tiles`` function, which returns only what the request's user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmo.web.registry import Tile, domains, resolve


def sections(request: HttpRequest) -> list[dict[str, Any]]:
    """(domain title, tiles) for each domain with tiles for this user, in registry order."""
    out = []
    for domain in domains():
        if not domain.tiles:
            continue
        tiles: list[Tile] = list(resolve(domain.tiles)(request))
        if tiles:
            tiles.sort(key=lambda t: not t.attention)  # stable: a domain's own order otherwise
            out.append({"name": domain.name, "title": domain.title, "tiles": tiles})
    return out


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The signed-in user's numbers across the office; a user with none sees a short note."""
    found = sections(request)
    attention = sum(t.attention for s in found for t in s["tiles"])
    return render(request, "web/overview.html", {"sections": found, "attention": attention})
