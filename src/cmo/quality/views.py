"""Quality pages: the dashboard, a measure's page and the drill-down to patients.

Pages render what the build computed (results, chart points, funnel points, periods, current
signals), read through the typed doors of ``cmo.quality.reads``; they compute no analysis.
Every request parameter is validated in one place per view (``cmo.quality.forms``): a bad
value is a 400 with a plain-text message, never a value spliced into a query.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from cmo.measures.api import (
    ChartLevel,
    ChartPoint,
    Level,
    LongRow,
    MeasureRow,
    ResultRow,
    SignalRow,
)
from cmo.quality import analysis as an
from cmo.quality import reads
from cmo.quality.apps import DASHBOARD, PATIENTS, PRACTITIONERS, SET_TARGETS
from cmo.quality.forms import DrillForm, SiteForm, bad_request
from cmo.quality.reads import NoResults
from cmo.stats import charts
from cmo.web.access import capability_required
from cmo.web.audit import log_access
from cmo.web.roles import perm
from cmo.web.scope import scope_of
from cmo.web.warehouse import derived, unpin

TABLE_LEVELS: tuple[Level, ...] = ("site", "department", "unit")
DRILL_LIMIT = 500
OTHER_DEPARTMENT = "Practitioner of another department"
SPARK_MONTHS = 24


def _empty(request: HttpRequest, exc: NoResults, title: str) -> HttpResponse:
    return render(
        request, "web/no_results.html", {"title": title, "message": str(exc), "hint": exc.hint}
    )


def _sites(measures: list[MeasureRow]) -> list[tuple[str, str]]:
    if not measures:
        return []
    rows = reads.results(measures[0]["measure_id"], period_type="year", level="site")
    return sorted({(str(r["unit_id"]), str(r.get("unit_name") or r["unit_id"])) for r in rows})


def _site_param(request: HttpRequest, sites: list[tuple[str, str]]) -> str | None:
    """The ``site`` filter: a FHIR id of one of the sites with results (else ValueError)."""
    form = SiteForm(request.GET, sites=[s for s, _ in sites])
    if not form.is_valid():
        raise ValueError(form.message())
    site: str | None = form.cleaned_data["site"] or None
    return site


def _chart_unit(site: str | None) -> tuple[ChartLevel, str]:
    return ("site", site) if site else ("system", "all")


def _measure_signals(signals: list[SignalRow], mid: str, site: str | None) -> list[SignalRow]:
    level, unit = _chart_unit(site)
    return [
        s
        for s in signals
        if s.get("measure_id") == mid and s.get("level") == level and str(s.get("unit_id")) == unit
    ]


def _current(mid: str, site: str | None, quarter: date | None) -> ResultRow | None:
    """The measure's result in the latest complete quarter (the build's quality__period)."""
    if quarter is None:
        return None
    level, unit = _chart_unit(site)
    rows = reads.results(
        mid, period_type="quarter", level=level, unit_id=unit, period_start=quarter
    )
    return rows[0] if rows else None


def _tile(
    m: MeasureRow,
    site: str | None,
    signals: list[SignalRow],
    quarter: date | None,
    target: tuple[float, str] | None = None,
) -> dict[str, Any]:
    """One measure's tile; ``signals`` are the current ones (as in the attention list);
    ``target`` the CMO's (value, source), else the measure's own reference."""
    mid = m["measure_id"]
    cur = _current(mid, site, quarter)
    level, unit = _chart_unit(site)
    points = reads.chart(mid, level=level, unit_id=unit)[-SPARK_MONTHS:]
    spark = None
    if points:
        spark = charts.sparkline_spec(
            [p["y"] for p in points],
            [p["period_start"] for p in points],
            signal=[p["sigma_signal"] for p in points],
            width="container",
            height=44,
        )
    sigs = _measure_signals(signals, mid, site)
    worse = any(s.get("direction") == "worse" for s in sigs)
    badge = (
        ("worse", "Signal: worse")
        if worse
        else (("better", "Signal: better") if sigs else ("none", "No signal"))
    )
    # The tile's badge is about the system (or the chosen site); signals of its sites,
    # departments, units or practitioners are counted so "No signal" does not contradict the
    # attention list above it.
    local = [
        s
        for s in signals
        if s.get("measure_id") == mid and s.get("direction") == "worse" and s not in sigs
    ]
    if not worse and local:
        badge = ("local", f"{len(local)} local signal{'s' if len(local) > 1 else ''}")
    return {
        "measure": m,
        "id": mid,
        "spark": spark,
        "spark_id": f"spark-{mid}",
        "period": an.period_label("quarter", cur["period_start"]) if cur else "–",
        "value": an.fmt_value(cur.get("rate"), m) if cur else "–",
        "n": int(cur["denominator"]) if cur and an.num(cur.get("denominator")) else None,
        "oe": an.fmt_oe(cur.get("oe"), cur.get("ci_low"), cur.get("ci_high")) if cur else "–",
        "target": an.fmt_value(target[0], m) if target else None,
        "target_source": target[1] if target else None,
        "target_status": an.target_status(cur.get("rate"), {**m, "target": target[0]})
        if cur and target
        else None,
        "attention": 0 if badge[0] == "worse" else (1 if badge[0] == "local" else 2),
        "group": m.get("group") or "outcomes",
        "badge": badge[0],
        "badge_label": badge[1],
        "url": reverse("quality:measure", args=[mid])
        + (f"?{urlencode({'site': site})}" if site else ""),
    }


@capability_required(DASHBOARD)
def dashboard(request: HttpRequest) -> HttpResponse:
    """One tile per measure and the list of current signals (issue 6 §2)."""
    try:
        measures = reads.list_measures()
        sites = _sites(measures)
        try:
            site = _site_param(request, sites)
        except ValueError as exc:
            return bad_request(str(exc))
        signals = reads.signals(site_id=site, current=True)
        # Chairs (department scope) see named only the practitioners of their own
        # departments, as on the measure pages' funnels (ARCHITECTURE.md §7).
        show_prac = request.user.has_perm(perm(PRACTITIONERS))
        scope = scope_of(request.user).departments if show_prac else None
        if not show_prac:  # board members, clinicians: no practitioner-level anything
            signals = [s for s in signals if s.get("level") != "practitioner"]
        context = _dashboard_cached(measures, sites, site, signals, show_prac, scope)
        context["can_set_targets"] = request.user.has_perm(perm(SET_TARGETS))
    except NoResults as exc:
        return _empty(request, exc, "Dashboard")
    return render(request, "quality/dashboard.html", context)


def _dashboard_cached(
    measures: list[MeasureRow],
    sites: list[tuple[str, str]],
    site: str | None,
    signals: list[SignalRow],
    show_prac: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    goals = _targets()
    return derived(
        "dashboard",
        lambda: _with_body(
            "quality/_dashboard_body.html",
            _dashboard_context(measures, sites, site, signals, show_prac, scope, goals),
        ),
        site,
        show_prac,
        sorted(scope) if scope is not None else None,
        sorted(goals.items()),
    )


def _targets() -> dict[str, tuple[float, str]]:
    """The CMO's targets (app database), part of the cache key so an edit shows at once."""
    from cmo.quality.interface import targets

    return {mid: (t.value, t.source) for mid, t in targets().items()}


def _measure_cached(
    m: MeasureRow,
    sites: list[tuple[str, str]],
    site: str | None,
    can_drill: bool,
    named: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    return derived(
        "measure",
        lambda: _with_body(
            "quality/_measure_body.html",
            _measure_context(m, sites, site, can_drill, named, scope),
        ),
        m["measure_id"],
        site,
        can_drill,
        named,
        sorted(scope) if scope is not None else None,
    )


def warm() -> int:
    """Fill the caches of the dashboard and of every measure page (system level, every
    combination of role flags), so the first visitor after a build does not wait; returns
    the number of pages built. ``cmo serve`` runs it in the background at start."""
    unpin()  # not a request: read the current snapshot
    measures = reads.list_measures()
    sites = _sites(measures)
    signals = reads.signals(site_id=None, current=True)
    built = 0
    for show_prac in (True, False):
        _dashboard_cached(measures, sites, None, signals, show_prac)
        built += 1
    for m in measures:
        for can_drill in (True, False):
            for named in (True, False):
                _measure_cached(m, sites, None, can_drill, named)
                built += 1
    unpin()
    return built


def _with_body(template: str, context: dict[str, Any]) -> dict[str, Any]:
    """Render the page body once per cache entry; requests only wrap it in the layout.

    Template rendering of the tables and chart specs was most of a cached request's time.
    """
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    body = render_to_string(template, context)
    return {**context, "body": mark_safe(body)}  # noqa: S308 - our own rendered template


def _dashboard_context(
    measures: list[MeasureRow],
    sites: list[tuple[str, str]],
    site: str | None,
    signals: list[SignalRow],
    show_prac: bool,
    scope: list[str] | None = None,
    goals: dict[str, tuple[float, str]] | None = None,
) -> dict[str, Any]:
    from cmo.measures.spec import GROUPS

    last = reads.latest_complete("month")
    quarter = reads.latest_complete("quarter")
    current = an.order_signals(signals)
    tiles = [_tile(m, site, current, quarter, (goals or {}).get(m["measure_id"])) for m in measures]
    # Grouped (spec.GROUPS order), and within a group what needs attention first.
    order = list(GROUPS)
    tiles.sort(
        key=lambda t: (
            order.index(t["group"]) if t["group"] in order else 99,
            t["attention"],
            str(t["measure"]["title"]),
        )
    )
    groups: list[dict[str, Any]] = []
    for t in tiles:
        if not groups or groups[-1]["key"] != t["group"]:
            groups.append(
                {"key": t["group"], "title": GROUPS.get(t["group"], t["group"]), "tiles": []}
            )
        groups[-1]["tiles"].append(t)
    titles = {m["measure_id"]: m["title"] for m in measures}
    attention = []
    for s in current:
        if s.get("measure_id") not in titles:
            continue
        named = _names(s, show_prac, scope)
        item = {
            **an.describe_signal(s, show_practitioner=named),
            "measure_title": titles.get(s["measure_id"], s["measure_id"]),
            "measure_url": reverse("quality:measure", args=[s["measure_id"]]),
            "url": signal_url(s) if named else None,
            "q": an.fmt_q(s.get("q_value")),
        }
        if show_prac and not named:  # a chair, and a practitioner of another department
            item["who"] = OTHER_DEPARTMENT
            item["who_hidden"] = "other departments"
        attention.append(item)
    attention = an.group_funnel_signals(attention)
    return {
        "tiles": tiles,
        "groups": groups,
        "sites": sites,
        "site": site,
        "attention_worse": [s for s in attention if s.get("direction") == "worse"],
        "attention_better": [s for s in attention if s.get("direction") != "worse"],
        "site_name": dict(sites).get(site or "", "All sites"),
        "as_of": an.period_label("month", last) if last else None,
    }


def signal_url(s: SignalRow) -> str | None:
    """The page of the unit a signal names, with its year (funnel signals) or site set: a
    practitioner's, department's or unit's page; a site's measure page; the system's."""
    from cmo.quality.pages import unit_url

    level = str(s.get("level") or "")
    start = an.as_date(s.get("period_start"))
    if level in ("practitioner", "department", "unit"):
        year = date(start.year, 1, 1) if start and an.signal_months(s) == 12 else None
        return unit_url(level, s.get("unit_id"), year)
    url = reverse("quality:measure", args=[s["measure_id"]])
    if level == "site":
        return url + "?" + urlencode({"site": str(s.get("unit_id"))})
    return url


def _names(signal: SignalRow, show_prac: bool, scope: list[str] | None) -> bool:
    """Whether the attention list names this signal's practitioner: roles with practitioner
    names see all, a chair only those with stays in their departments (any period)."""
    if not show_prac or signal.get("level") != "practitioner":
        return show_prac
    if scope is None:
        return True
    return str(signal.get("unit_id")) in practitioners_of(signal["measure_id"], None, scope)


def _find(mid: str) -> MeasureRow:
    m = reads.measure(mid)
    if m is None:
        raise Http404(f"no measure {mid!r}")
    return m


def _table(m: MeasureRow, site: str | None, can_drill: bool) -> tuple[str, list[dict[str, Any]]]:
    """The latest complete quarter by site, department and unit."""
    out: list[dict[str, Any]] = []
    quarter = reads.latest_complete("quarter")
    if quarter is None:
        return "–", out
    for level in TABLE_LEVELS:
        rows = reads.results(
            m["measure_id"], period_type="quarter", level=level, site_id=site, period_start=quarter
        )
        if level == "site" and site:
            rows = [r for r in rows if str(r["unit_id"]) == site]
        for r in sorted(rows, key=lambda r: str(r.get("unit_name"))):
            drill = None
            if can_drill:
                drill = (
                    reverse("quality:patients", args=[m["measure_id"]])
                    + "?"
                    + urlencode(
                        {
                            "period_type": "quarter",
                            "period_start": r["period_start"],
                            "level": level,
                            "unit_id": r["unit_id"],
                        }
                    )
                )
            out.append(
                {
                    "level": an.LEVEL_LABELS[level],
                    "name": r.get("unit_name") or r["unit_id"],
                    "n": int(r["denominator"]),
                    "observed": an.num(r.get("numerator")),
                    "value": an.fmt_value(r.get("rate"), m),
                    "expected": an.num(r.get("expected")),
                    "oe": an.fmt_oe(r.get("oe"), r.get("ci_low"), r.get("ci_high")),
                    "drill": drill,
                }
            )
    return an.period_label("quarter", quarter), out


def practitioners_of(measure_id: str, year: date | None, departments: list[str]) -> set[str]:
    """Practitioners with stays in these departments (in that year; None = any time), for a
    chair's scope. Ids only, from the chair's own departments; not shown, so not logged."""
    return reads.practitioners_in(measure_id, sorted(departments), year=year)


def _funnel(
    m: MeasureRow, site: str | None, named: bool, scope: list[str] | None = None
) -> dict[str, Any] | None:
    """The practitioner funnel of the latest complete year, as the build computed it; with a
    department ``scope`` (chairs) only the practitioners of those departments are named
    (ARCHITECTURE.md §7)."""
    points = reads.funnel(m["measure_id"], level="practitioner", site_id=site)
    if not points:
        return None
    year = points[0]["period_start"]
    frame = pd.DataFrame(points).rename(columns={"ratio": "ratio_or_rate"})
    frame["name"] = [str(p["unit_name"] or p["unit_id"]) for p in points]
    if named and scope is not None:
        mine = practitioners_of(m["measure_id"], year, scope)
        frame["name"] = [
            n if str(uid) in mine else OTHER_DEPARTMENT
            for uid, n in zip(frame["unit_id"], frame["name"], strict=True)
        ]
    lower_better = m.get("direction", "lower") == "lower"
    label = an.period_label("year", year)
    spec = charts.funnel_points_spec(
        frame,
        title=f"Practitioners, {label}",
        named=named,
        x_title="Expected days" if m.get("kind") == "mean" else "Expected events",
        y_title="Observed / expected",
        target=1.0,
        lower_better=lower_better,
    )
    outliers = [p for p in points if p["outlier_95"]]
    named_list = []
    for p, name in zip(points, frame["name"], strict=True):
        if not (named and p["outlier_95"]) or name == OTHER_DEPARTMENT:
            continue
        ratio = float(p["ratio"] or 0.0)
        high = ratio > float(p["ucl_95"] or 0.0)
        named_list.append(
            {
                "name": name,
                "ratio": ratio,
                "limit": "99.8%" if p["outlier_99_8"] else "95%",
                "side": "above" if high else "below",
                "worse": high == lower_better,
            }
        )
    named_list.sort(key=lambda o: (not o["worse"], -o["ratio"]))
    return {
        "spec": spec,
        "worse": [o for o in named_list if o["worse"]],
        "better": [o for o in named_list if not o["worse"]],
        "n_outliers": len(outliers),
        "year": label,
        "n": len(points),
    }


@capability_required(DASHBOARD)
def measure(request: HttpRequest, measure_id: str) -> HttpResponse:
    """Definition and method, control chart, table by level, practitioner funnel, model card."""
    try:
        m = _find(measure_id)
        sites = _sites([m])
        try:
            site = _site_param(request, sites)
        except ValueError as exc:
            return bad_request(str(exc))
        can_drill = request.user.has_perm(perm(PATIENTS))
        named = request.user.has_perm(perm(PRACTITIONERS))
        scope = scope_of(request.user).departments if named else None
        context = _measure_cached(m, sites, site, can_drill, named, scope)
    except NoResults as exc:
        return _empty(request, exc, "Measure")
    return render(request, "quality/measure.html", context)


def _control(m: MeasureRow, site: str | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The monthly control chart the build computed (spec and its rows as a table)."""
    level, unit = _chart_unit(site)
    points = reads.chart(m["measure_id"], level=level, unit_id=unit)
    if not points:
        return None, []
    kind = points[0]["chart"]
    scale = 100.0 if kind == "p" and an.is_percent(m) else 1.0  # display only
    rows = [
        {
            "month": an.period_label("month", p["period_start"]),
            "x": p["period_start"],
            **_scaled(p, scale),
            "signal": bool(p["sigma_signal"] or p["runs_signal"]),
            "sigma_signal": bool(p["sigma_signal"]),
            "runs_signal": bool(p["runs_signal"]),
            "n": p["denominator"],
        }
        for p in points
    ]
    frame = pd.DataFrame(rows)
    frame["x"] = pd.to_datetime(frame["x"])
    spec = charts.control_chart_spec(
        frame,
        title=f"{m['title']} by month",
        y_title=an.y_title(m, kind),
        x_title="Discharge month",
        width="container",
        height=260,
    )
    return spec, rows


def _scaled(p: ChartPoint, scale: float) -> dict[str, float | None]:
    values = {"y": p["y"], "cl": p["cl"], "lcl": p["lcl"], "ucl": p["ucl"]}
    return {k: (f * scale if (f := an.num(v)) is not None else None) for k, v in values.items()}


def _measure_context(
    m: MeasureRow,
    sites: list[tuple[str, str]],
    site: str | None,
    can_drill: bool,
    named: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    measure_id = m["measure_id"]
    period, table = _table(m, site, can_drill)
    funnel = _funnel(m, site, named, scope)
    card = reads.model_card(measure_id)
    control, chart_rows = _control(m, site)
    calib = None
    if card and card.get("calibration"):
        calib = charts.calibration_spec(
            card["calibration"], title="Calibration", percent=an.is_percent(m)
        )
    target = an.fmt_value(m.get("target"), m) if an.num(m.get("target")) is not None else None
    return {
        "chart_rows": chart_rows,
        "m": m,
        "site": site,
        "sites": sites,
        "control": control,
        "table": table,
        "table_period": period,
        "funnel": funnel,
        "card": card,
        "calibration": calib,
        "named": named,
        "can_drill": can_drill,
        "target": target,
        "signals": [r for r in chart_rows if r["sigma_signal"]],
    }


def scoped_long_rows(
    user: Any, measure_id: str, params: dict[str, Any], limit: int = DRILL_LIMIT
) -> list[LongRow]:
    """Patient-level rows, restricted to a chair's departments (ARCHITECTURE.md §7)."""
    scope = scope_of(user).departments
    if (
        scope is not None
        and params.get("level") == "department"
        and params.get("unit_id") not in scope
    ):
        raise PermissionDenied("outside your departments")
    # The scope filters before the limit, so a chair gets up to ``limit`` of their own stays.
    return reads.long_rows(
        measure_id,
        period_type=params.get("period_type"),
        period_start=params.get("period_start"),
        level=params.get("level"),
        unit_id=params.get("unit_id"),
        limit=limit,
        departments=sorted(scope) if scope is not None else None,
    )


@capability_required(PATIENTS)
def patients(request: HttpRequest, measure_id: str) -> HttpResponse:
    """The stays behind a number; every view is written to the access log."""
    form = DrillForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    params = form.params()
    try:
        m = _find(measure_id)
        rows = scoped_long_rows(request.user, measure_id, params)
    except NoResults as exc:
        return _empty(request, exc, "Patients")
    log_access(
        request,
        filters={"measure_id": measure_id, **params},
        patient_ids=[r.get("patient_id") for r in rows],
    )
    depts = _unit_names(measure_id, "department")
    units = _unit_names(measure_id, "unit")
    pracs = (
        _unit_names(measure_id, "practitioner")
        if request.user.has_perm(perm(PRACTITIONERS))
        else {}
    )
    shown = [
        {
            "patient_id": r.get("patient_id"),
            "stay_id": r.get("stay_id"),
            "discharge_date": an.as_date(r.get("discharge_date")),
            "admit_date": an.as_date(r.get("admit_date")),
            "unit": units.get(str(r.get("unit_id")), r.get("unit_id")),
            "department": depts.get(str(r.get("department_id")), r.get("department_id")),
            "practitioner": pracs.get(str(r.get("practitioner_id")), r.get("practitioner_id")),
            "principal": _dx(r.get("principal_dx"), r.get("principal_dx_display")),
            "secondary": [
                {**_dx(d.get("code"), d.get("display")), "poa": POA_LABELS.get(d.get("poa") or "")}
                for d in r.get("secondary_dx") or []
            ],
            "outcome": an.fmt_value(r.get("outcome"), {**m, "unit": ""})
            if m.get("kind") == "mean"
            else ("Yes" if an.num(r.get("outcome")) else "No"),
            "expected": an.fmt_value(r.get("expected"), m),
            "excluded": r.get("exclusion_reason") if r.get("excluded") else "",
        }
        for r in rows
    ]
    label = (
        an.period_label(params["period_type"] or "month", params["period_start"])
        if params["period_start"]
        else "all periods"
    )
    return render(
        request,
        "quality/patients.html",
        {
            "m": m,
            "rows": shown,
            "params": params,
            "period_label": label,
            "limit": DRILL_LIMIT,
            "truncated": len(rows) >= DRILL_LIMIT,
            "level_label": an.LEVEL_LABELS.get(params["level"] or "system", ""),
            "unit_name": _unit_name(measure_id, params),
        },
    )


# Present-on-admission indicators (CMS ICD-10-CM Official Guidelines, Appendix I).
POA_LABELS = {
    "y": "POA",
    "n": "not POA",
    "u": "POA: documentation insufficient",
    "w": "POA: clinically undetermined",
}


def _dx(code: Any, display: Any) -> dict[str, str | None]:
    """An undotted ICD-10-CM code in its printed, dotted form, with the source's display."""
    if not code:
        return {"code": None, "display": None}
    text = str(code)
    dotted = text if "." in text or len(text) <= 3 else f"{text[:3]}.{text[3:]}"
    return {"code": dotted, "display": str(display) if display else None}


def _unit_names(measure_id: str, level: Level) -> dict[str, str]:
    """Names of a level's units (departments, wards, practitioners) from the yearly results,
    so the drill-down reads "Cardiology", not "org-h1-cardiology"."""
    rows = reads.results(measure_id, period_type="year", level=level)
    return {str(r["unit_id"]): str(r["unit_name"]) for r in rows if r.get("unit_name")}


def _unit_name(measure_id: str, params: dict[str, Any]) -> str | None:
    """The name of the drilled unit (a site's or ward's name rather than its id)."""
    level, unit_id = params.get("level"), params.get("unit_id")
    if not level or level == "system" or not unit_id:
        return None
    rows = reads.results(
        measure_id,
        period_type=params.get("period_type") or "month",
        level=level,
        unit_id=unit_id,
    )
    return str(rows[-1].get("unit_name") or unit_id) if rows else str(unit_id)
