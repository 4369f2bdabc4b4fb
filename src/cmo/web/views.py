"""Pages of the web app itself: data status, access log, health check (home: cmo.web.home)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import PasswordChangeView
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from cmo.measures import api
from cmo.web.access import capability_required
from cmo.web.models import AccessLog
from cmo.web.params import AccessLogForm, QuarantinePageForm, bad_request
from cmo.web.roles import ACCESS_LOG, DATA_STATUS, QUARANTINE_TEXT, perm
from cmo.web.warehouse import NoResults, door, warehouse_path

# The data status page's doors: they answer before any measure build (after an ingest).
data_status_read = door(api.data_status, needs=None)
quarantine_read = door(api.quarantine, needs=None)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


SECTION_ORDER = ("last_build", "build_steps", "ingest_runs", "quarantine", "tables")


def _fmt(value: Any) -> str:
    """A status value for people: thousands separators, seconds to 2 decimals, short lists."""
    import json
    from datetime import date, datetime
    from pathlib import PurePath

    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _fmt(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, list):
        names = [PurePath(v).name if isinstance(v, str) and "/" in v else _fmt(v) for v in value]
        more = f" … ({len(names)} in all)" if len(names) > 6 else ""
        return ", ".join(names[:6]) + more
    if isinstance(value, dict):
        numbers = [v for v in value.values() if isinstance(v, int | float)]
        if len(value) > 6 and len(numbers) == len(value):  # e.g. rows per table of a run
            return f"{len(value)} tables, {_fmt(sum(numbers))} rows in all"
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _tables(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Each list of rows in the status becomes a titled table; scalars go in a summary table."""
    sections = []
    scalars = []
    keys = sorted(status, key=lambda k: SECTION_ORDER.index(k) if k in SECTION_ORDER else 0)
    for key in keys:
        value = status[key]
        title = key.replace("_", " ").capitalize()
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = list(value[0].keys())
            rows = [[_fmt(r.get(c)) for c in cols] for r in value]
            sections.append({"title": title, "columns": cols, "rows": rows})
        elif isinstance(value, dict):
            rows = [[k, _fmt(v)] for k, v in value.items()]
            sections.append({"title": title, "columns": ["name", "value"], "rows": rows})
        elif isinstance(value, list):
            sections.append(
                {"title": title, "columns": ["value"], "rows": [[_fmt(v)] for v in value]}
            )
        else:
            scalars.append([title, _fmt(value)])
    if scalars:
        sections.insert(0, {"title": "Summary", "columns": ["name", "value"], "rows": scalars})
    return sections


@capability_required(DATA_STATUS)
def data_status(request: HttpRequest) -> HttpResponse:
    """Ingest runs, row counts, quarantined lines with their reasons, measure build times."""
    with_text = request.user.has_perm(perm(QUARANTINE_TEXT))
    form = QuarantinePageForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    page = form.cleaned_data["qpage"] or 1
    try:
        status = data_status_read()
        quarantined = quarantine_read(
            limit=QUARANTINE_PAGE,
            offset=(page - 1) * QUARANTINE_PAGE,
            with_text=with_text,
        )
    except NoResults as exc:
        return render(
            request,
            "web/no_results.html",
            {"title": "Data status", "message": str(exc), "hint": exc.hint},
        )
    total = int(quarantined["total"])
    pages = max(1, -(-total // QUARANTINE_PAGE))
    lines = [
        {
            "started": _fmt(r.get("started")),
            "run_id": r.get("run_id"),
            "file": r.get("file"),
            "line": r.get("line"),
            "resource_type": r.get("resource_type") or "–",
            "reason": r.get("reason"),
            "excerpt": _excerpt(r.get("text")) if with_text else None,
        }
        for r in quarantined["rows"]
    ]
    return render(
        request,
        "web/data_status.html",
        {
            "sections": _tables(dict(status)),
            "warehouse": warehouse_path(),
            "quarantine": lines,
            "quarantine_total": total,
            "quarantine_page": page,
            "quarantine_pages": pages,
            "quarantine_text": with_text,
        },
    )


QUARANTINE_PAGE = 200
EXCERPT_CHARS = 120


def _excerpt(text: str | None) -> str:
    """The start of a quarantined line, on one line (the full 500 characters overflow)."""
    if not text:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "…"


@capability_required(ACCESS_LOG)
def access_log(request: HttpRequest) -> HttpResponse:
    """Who looked at which patients, newest first; filter by user name or patient id."""
    form = AccessLogForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    qs = AccessLog.objects.all()
    user = form.cleaned_data["user"]
    patient = form.cleaned_data["patient"]
    if user:
        qs = qs.filter(username__icontains=user)
    if patient:
        # JSON containment is not portable to SQLite; the id list is text-searched instead.
        qs = qs.filter(patient_ids__icontains=f'"{patient}"')
    page = Paginator(qs, 50).get_page(form.cleaned_data["page"] or 1)
    return render(
        request, "web/access_log.html", {"page": page, "user_q": user, "patient_q": patient}
    )


class PasswordChange(PasswordChangeView):
    """Change the password; clears the one-time-password flag."""

    template_name = "web/password_change.html"
    success_url = "/"

    def form_valid(self, form: Any) -> HttpResponse:
        from cmo.web.middleware import clear_password_flag

        response = super().form_valid(form)
        clear_password_flag(self.request, self.request.user)
        return response
