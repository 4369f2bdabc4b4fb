"""One unit across every measure: the practitioner, department and unit pages (issue 14).

Each page shows, for the latest complete year (or the ``?year=`` asked for), every measure's
volume, observed and expected counts, rate and O/E with its 95% CI, the unit's place in the
build's funnel (the practitioner's against the system limits and their department peers), the
quarterly trend, the current signals, and links to the stays behind each number (the drill-down,
access-logged). What each role sees:

- practitioner page: roles with ``quality.view_practitioners`` (a chair only for practitioners
  with stays in their departments), and a clinician for their own page (the directory's
  ``Practitioner.user``) through ``quality.view_own_results``;
- department and unit pages: every dashboard role (aggregates); the department's practitioners
  are listed only for roles allowed names (a chair: their own departments).

Pages render what the build computed; the funnel's shrunk ratios, q-values and small-cell flags
(Benjamini & Hochberg 1995; empirical Bayes, Spiegelhalter 2005) are shown where the build
wrote them.
"""

from __future__ import annotations

import re
from datetime import date
from statistics import median
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from cmo.measures.api import FunnelPoint, FunnelWindow, Level, MeasureRow, PeriodType, ResultRow
from cmo.quality import analysis as an
from cmo.quality import reads
from cmo.quality.apps import DASHBOARD, OWN_RESULTS, PATIENTS, PRACTITIONERS
from cmo.quality.forms import UnitPageForm, bad_request
from cmo.quality.reads import NoResults
from cmo.stats import charts
from cmo.web.access import capability_required
from cmo.web.roles import perm
from cmo.web.scope import scope_of

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
PAGE_URLS = {
    "practitioner": "quality:practitioner",
    "department": "quality:department",
    "unit": "quality:unit",
}
ATTRIBUTION_WORDS = {
    "attending_at_discharge": "the attending physician at discharge (the ATND participant "
    "with the latest start)",
    "operating_surgeon": "the surgeon of the principal procedure",
}
TREND_QUARTERS = 8
ROLLING_LABELS: tuple[tuple[PeriodType, str], ...] = (
    ("rolling12", "Rolling 12 months"),
    ("rolling24", "Rolling 24 months"),
)


def unit_url(level: str, unit_id: Any, year: date | str | None = None) -> str | None:
    """The page of a unit named by a signal or a table row, with its year (or rolling window:
    ``"rolling12"``, ``"rolling24"``); a site goes to the dashboard filtered to it; the system
    has no page of its own (None)."""
    uid = str(unit_id)
    if level in PAGE_URLS and FHIR_ID.match(uid):
        url = reverse(PAGE_URLS[level], args=[uid])
        if year is None:
            return url
        return url + "?" + urlencode({"year": year if isinstance(year, str) else year.isoformat()})
    if level == "site" and FHIR_ID.match(uid):
        return reverse("quality:dashboard") + "?" + urlencode({"site": uid})
    return None


def own_practitioners(user: Any) -> set[str]:
    """The practitioner ids (directory codes) linked to this user: their own pages."""
    from cmo.directory.models import Practitioner

    if not user.is_authenticated:
        return set()
    return set(Practitioner.objects.filter(user=user).values_list("code", flat=True))


def may_see_practitioner(user: Any, practitioner_id: str) -> bool:
    """Roles with names see every practitioner (a chair: those with stays in their
    departments); anyone else only their own page. Board members never."""
    scope = scope_of(user)
    if scope.deidentified:
        return False
    if user.has_perm(perm(PRACTITIONERS)):
        if scope.departments is None:
            return True
        return bool(set(reads.practitioner_departments(practitioner_id)) & set(scope.departments))
    return user.has_perm(perm(OWN_RESULTS)) and practitioner_id in own_practitioners(user)


def _period(request: HttpRequest) -> tuple[PeriodType, date | None]:
    """The page's period: a calendar year (default the latest complete one) or the rolling 12
    or 24 months the build stored (their start); ValueError for a bad or absent one."""
    form = UnitPageForm(request.GET)
    if not form.is_valid():
        raise ValueError(form.message())
    chosen = form.cleaned_data.get("year")
    if chosen == "rolling12" or chosen == "rolling24":
        start = reads.latest_complete(chosen)
        if start is None:
            raise ValueError(f"year: this build has no {chosen} window (the data are shorter)")
        return chosen, start
    year: date | None = chosen if isinstance(chosen, date) else reads.latest_complete("year")
    return "year", year


def _check_id(unit_id: str) -> None:
    if not FHIR_ID.match(unit_id):
        raise Http404("no such unit")


@capability_required(PRACTITIONERS, OWN_RESULTS)
def practitioner(request: HttpRequest, unit_id: str) -> HttpResponse:
    """Every measure for one practitioner, with the attribution rule of each."""
    return _unit_page(request, "practitioner", unit_id)


@capability_required(DASHBOARD)
def department(request: HttpRequest, unit_id: str) -> HttpResponse:
    """Every measure for one department, and its practitioners for roles allowed names."""
    return _unit_page(request, "department", unit_id)


@capability_required(DASHBOARD)
def unit(request: HttpRequest, unit_id: str) -> HttpResponse:
    """Every measure for one ward-level unit (stays that passed through it)."""
    return _unit_page(request, "unit", unit_id)


@capability_required(DASHBOARD)
def my_department(request: HttpRequest) -> HttpResponse:
    """A chair's landing: their (first) department's page; others get the dashboard. Rendered
    here rather than redirected, so the landing URL needs no argument."""
    from cmo.quality.views import dashboard

    departments = scope_of(request.user).departments
    if departments:
        return _unit_page(request, "department", sorted(departments)[0])
    return dashboard(request)


def _unit_page(request: HttpRequest, level: Level, unit_id: str) -> HttpResponse:
    _check_id(unit_id)
    try:
        period_type, year = _period(request)
    except ValueError as exc:
        return bad_request(str(exc))
    try:
        names = reads.unit_names(level)
        if unit_id not in names:
            raise Http404(f"no {level} with results")
        if level == "practitioner" and not may_see_practitioner(request.user, unit_id):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("not one of your practitioners")
        context = _context(request, level, unit_id, names[unit_id], year, period_type)
    except NoResults as exc:
        return render(
            request,
            "web/no_results.html",
            {"title": an.LEVEL_LABELS[level], "message": str(exc), "hint": exc.hint},
        )
    return render(request, "quality/unit.html", context)


def _can_drill(user: Any, level: Level, unit_id: str) -> bool:
    """Whether a "Stays" link would work for this user (else it is not shown)."""
    if not user.has_perm(perm(PATIENTS)):
        return False
    departments = scope_of(user).departments
    if departments is None:
        return True
    if level == "department":
        return unit_id in departments
    if level == "practitioner":
        return bool(set(reads.practitioner_departments(unit_id)) & set(departments))
    # A unit's number counts every department's stays; a chair's drill-down would show only
    # theirs, a list that disagrees with the number: no link.
    return False


def _context(
    request: HttpRequest,
    level: Level,
    unit_id: str,
    name: str,
    year: date | None,
    period_type: PeriodType = "year",
) -> dict[str, Any]:
    """The page for ``period_type`` starting at ``year``: a calendar year, or the rolling 12 or
    24 months (results, funnel position and stays all of that window, as the build stored)."""
    user = request.user
    measures = reads.list_measures()
    window: FunnelWindow = "year"
    if period_type == "rolling12" or period_type == "rolling24":
        window = period_type
    calendar = year if window == "year" else None  # a calendar year, for names and links
    by_year = {
        r["measure_id"]: r
        for r in reads.unit_results(level, unit_id, period_type=period_type, period_start=year)
    }
    quarters: dict[str, list[ResultRow]] = {}
    for r in reads.unit_results(level, unit_id, period_type="quarter"):
        quarters.setdefault(r["measure_id"], []).append(r)
    funnel = (
        {
            p["measure_id"]: p
            # A rolling funnel starts where the measure's lookback is complete (the build's
            # rule), so per measure it may start after the results' window: read by window.
            for p in reads.unit_funnel(level, unit_id, period_start=calendar, window=window)
        }
        if level in ("department", "unit", "practitioner") and year
        else {}
    )
    drill = _can_drill(user, level, unit_id)
    home_depts = (
        sorted(reads.practitioner_departments(unit_id).items(), key=lambda kv: -kv[1])
        if level == "practitioner"
        else []
    )
    dept_names = reads.unit_names("department") if home_depts else {}
    rows = []
    for m in measures:
        mid = m["measure_id"]
        found = by_year.get(mid)
        if found is None:
            continue
        rows.append(
            _row(
                m,
                found,
                funnel.get(mid),
                quarters.get(mid, []),
                (level, unit_id),
                (period_type, year),
                drill,
            )
        )
        if level == "practitioner" and home_depts and rows[-1]["funnel"] and year:
            start = an.as_date(funnel[mid]["period_start"]) or year
            rows[-1]["peers"] = _peers(mid, home_depts[0][0], (window, start), unit_id)
    groups = _grouped(rows)
    signals = [
        {
            **an.describe_signal(s, show_practitioner=True),
            "measure_title": next(
                (m["title"] for m in measures if m["measure_id"] == s["measure_id"]),
                s["measure_id"],
            ),
            "url": reverse("quality:measure", args=[s["measure_id"]]),
        }
        for s in an.order_signals(reads.unit_signals(level, unit_id))
    ]
    practitioners = (
        _department_practitioners(user, unit_id, calendar, measures)
        if level == ("department")
        else []
    )
    return {
        "level": level,
        "level_label": an.LEVEL_LABELS[level],
        "unit_id": unit_id,
        "name": name,
        "year": year,
        "period_type": period_type,
        "year_label": an.period_label(period_type, year) if year else "–",
        "years": _years(),
        "rolling": [
            (p, label) for p, label in ROLLING_LABELS if reads.latest_complete(p) is not None
        ],
        "groups": groups,
        "n_rows": len(rows),
        "signals": signals,
        "practitioners": practitioners,
        "home_departments": [
            {"name": dept_names.get(d, d), "url": unit_url("department", d), "stays": n}
            for d, n in home_depts[:3]
        ],
        "can_drill": drill,
    }


def _years() -> list[date]:
    return [
        p["period_start"] for p in reads.periods() if p["period_type"] == "year" and p["complete"]
    ]


def _row(
    m: MeasureRow,
    r: ResultRow,
    fp: FunnelPoint | None,
    quarters: list[ResultRow],
    unit: tuple[Level, str],
    period: tuple[PeriodType, date | None],
    drill: bool,
) -> dict[str, Any]:
    mid = m["measure_id"]
    level, unit_id = unit
    period_type, year = period
    trend = [q for q in quarters if q.get("rate") is not None][-TREND_QUARTERS:]
    spark = None
    if len(trend) >= 2:
        spark = charts.sparkline_spec(
            [float(q["rate"] or 0.0) * (100 if an.is_percent(m) else 1) for q in trend],
            [q["period_start"] for q in trend],
            width=120,
            height=28,
        )
    drill_url = None
    if drill and year:
        drill_url = (
            reverse("quality:patients", args=[mid])
            + "?"
            + urlencode(
                {
                    "period_type": period_type,
                    "period_start": year.isoformat(),
                    "level": level,
                    "unit_id": unit_id,
                }
            )
        )
    return {
        "m": m,
        "id": mid,
        "url": reverse("quality:measure", args=[mid]),
        "n": int(r["denominator"]),
        "observed": an.num(r.get("numerator")),
        "expected": an.num(r.get("expected")),
        "value": an.fmt_value(r.get("rate"), m),
        "oe": an.fmt_oe(r.get("oe"), r.get("ci_low"), r.get("ci_high")),
        "rsr": an.fmt_value(r.get("rsr"), m) if an.num(r.get("rsr")) is not None else None,
        "funnel": an.funnel_position(fp, m) if fp else None,
        # A rolling funnel shorter than the row's window (its lookback) says which months.
        "funnel_months": an.months_label(fp["period_start"], fp.get("period_end"))
        if fp and period_type != "year" and an.as_date(fp["period_start"]) != year
        else None,
        "spark": spark,
        "spark_id": f"trend-{mid}",
        "trend_label": " → ".join(an.fmt_value(q.get("rate"), m) for q in trend[-4:]),
        "attribution": ATTRIBUTION_WORDS.get(
            str(m.get("attribution") or "attending_at_discharge"), str(m.get("attribution"))
        ),
        "drill": drill_url,
        "peers": None,
    }


def _peers(
    measure_id: str, department: str, period: tuple[FunnelWindow, date], unit_id: str
) -> dict[str, Any] | None:
    """The practitioner's department peers in the same funnel: their median O/E and count."""
    window, start = period
    mine = reads.practitioners_in(
        measure_id, [department], year=start if window == "year" else None
    )
    points = [
        p
        for p in reads.funnel(measure_id, level="practitioner", period_start=start, window=window)
        if str(p["unit_id"]) in mine and p["unit_id"] != unit_id and an.num(p.get("ratio"))
    ]
    if not points:
        return None
    return {
        "n": len(points),
        "median": median(float(p["ratio"] or 0.0) for p in points),
    }


def _grouped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from cmo.measures.spec import GROUPS

    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row["m"].get("group") or "outcomes"), []).append(row)
    order = list(GROUPS)
    return [
        {"key": g, "title": GROUPS.get(g, g.replace("_", " ").capitalize()), "rows": rs}
        for g, rs in sorted(
            out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
        )
    ]


def _department_practitioners(
    user: Any, department_id: str, year: date | None, measures: list[MeasureRow]
) -> list[dict[str, Any]]:
    """The department's practitioners (stays attributed to them there in the year), for roles
    allowed names; a chair only for their own departments."""
    if not user.has_perm(perm(PRACTITIONERS)):
        return []
    departments = scope_of(user).departments
    if departments is not None and department_id not in departments:
        return []
    ids: set[str] = set()
    for m in measures:
        ids |= reads.practitioners_in(m["measure_id"], [department_id], year=year)
    names = reads.unit_names("practitioner")
    flagged = {
        str(s["unit_id"])
        for s in reads.signals(current=True)
        if s.get("level") == "practitioner" and s.get("direction") == "worse"
    }
    out = [
        {
            "id": p,
            "name": names.get(p, p),
            "url": unit_url("practitioner", p, year),
            "flagged": p in flagged,
        }
        for p in ids
        if p in names
    ]
    return sorted(out, key=lambda x: (not x["flagged"], x["name"]))
