"""The quality domain's overview tile (``Domain.tiles``): the current "worse" signals of the
last complete months (the build marks them, ``quality__signal.current``), counted at the levels
the user may see: practitioner-level signals only with ``quality.view_practitioners``, and a
chair's only for their departments."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from cmo.quality import reads
from cmo.quality.apps import DASHBOARD, PRACTITIONERS
from cmo.web.registry import Tile
from cmo.web.scope import scope_of


def tiles(request: HttpRequest) -> list[Tile]:
    user = request.user
    if not user.has_perm(DASHBOARD):
        return []
    try:
        rows = reads.signals(current=True)
    except reads.NoResults:
        return []
    departments = scope_of(user).departments
    seen = [
        s
        for s in rows
        if s.get("direction") == "worse"
        and (s["level"] != "practitioner" or user.has_perm(PRACTITIONERS))
        and (departments is None or (s["level"] == "department" and s["unit_id"] in departments))
    ]
    measures = sorted({s["measure_id"] for s in seen})
    detail = (
        f"in {len(measures)} measure{'s' if len(measures) != 1 else ''}: {', '.join(measures)}"
        if measures
        else "no current signal of worse performance"
    )
    return [
        Tile(
            "Outcome signals (worse)",
            f"{len(seen):,}",
            detail,
            reverse("quality:dashboard"),
            attention=bool(seen),
        )
    ]
