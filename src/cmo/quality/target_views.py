"""The CMO's targets: one value and its source per measure (``quality__target``), shown on the
dashboard's tiles and the measure pages' charts. Changes keep their history (simple_history)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cmo.quality import analysis as an
from cmo.quality import reads
from cmo.quality.apps import SET_TARGETS
from cmo.quality.forms import TargetForm
from cmo.quality.models import MeasureTarget
from cmo.quality.reads import NoResults
from cmo.web.access import capability_required


@capability_required(SET_TARGETS)
def targets(request: HttpRequest) -> HttpResponse:
    """Every measure with its target; POST sets one (``measure_id``, ``value``, ``source``)."""
    try:
        measures = reads.list_measures()
    except NoResults as exc:
        return render(
            request,
            "web/no_results.html",
            {"title": "Targets", "message": str(exc), "hint": exc.hint},
        )
    by_id = {m["measure_id"]: m for m in measures}
    current = {t.measure_id: t for t in MeasureTarget.objects.all()}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        mid = str(request.POST.get("measure_id") or "")
        m = by_id.get(mid)
        if m is None:
            raise Http404("no such measure")
        if request.POST.get("clear"):
            MeasureTarget.objects.filter(measure_id=mid).delete()
            messages.success(request, f"Target of {m['title']} removed.")
            return redirect("quality:targets")
        form = TargetForm(request.POST, percent=an.is_percent(m))
        if form.is_valid():
            MeasureTarget.objects.update_or_create(
                measure_id=mid,
                defaults={
                    "value": form.scaled(),
                    "source": form.cleaned_data["source"],
                    "note": form.cleaned_data["note"],
                    "set_by": request.user,
                },
            )
            messages.success(request, f"Target of {m['title']} saved.")
            return redirect("quality:targets")
        errors[mid] = form
    rows = []
    for m in measures:
        t = current.get(m["measure_id"])
        percent = an.is_percent(m)
        initial = (
            {
                "value": round(t.value * (100 if percent else 1), 6),
                "source": t.source,
                "note": t.note,
            }
            if t
            else None
        )
        rows.append(
            {
                "m": m,
                "target": t,
                "shown": an.fmt_value(t.value, m) if t else None,
                "form": errors.get(m["measure_id"])
                or TargetForm(initial=initial, percent=percent, prefix=None),
                "scale": "%" if percent else (m.get("unit") or "ratio"),
            }
        )
    return render(request, "quality/targets.html", {"rows": rows})
