"""Quality pages: the dashboard, a measure's page and the drill-down to patients."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from cmo.quality import analysis as an
from cmo.quality import charts
from cmo.quality.apps import DASHBOARD, PATIENTS, PRACTITIONERS
from cmo.web import results
from cmo.web.access import capability_required
from cmo.web.audit import log_access
from cmo.web.results import NoResults
from cmo.web.roles import departments_of, perm

PERIOD_TYPES = ("month", "quarter", "year")
TABLE_LEVELS = ("site", "department", "unit")
DRILL_LEVELS = ("system", "site", "department", "unit", "practitioner")
DRILL_LIMIT = 500
OTHER_DEPARTMENT = "Practitioner of another department"


def _empty(request: HttpRequest, exc: NoResults, title: str) -> HttpResponse:
    return render(
        request, "web/no_results.html", {"title": title, "message": str(exc), "hint": exc.hint}
    )


def _sites(measures: list[dict[str, Any]]) -> list[tuple[str, str]]:
    if not measures:
        return []
    rows = results.call("results", measures[0]["measure_id"], period_type="year", level="site")
    return sorted({(str(r["unit_id"]), str(r.get("unit_name") or r["unit_id"])) for r in rows})


def _site_param(request: HttpRequest, sites: list[tuple[str, str]]) -> str | None:
    site = request.GET.get("site") or None
    if site is not None and site not in {s for s, _ in sites}:
        raise ValueError(f"unknown site {site!r}")
    return site


def _series(mid: str, site: str | None, period_type: str) -> list[dict[str, Any]]:
    if site:
        return results.call("results", mid, period_type=period_type, level="site", unit_id=site)
    return results.call("results", mid, period_type=period_type, level="system")


def _measure_signals(
    signals: list[dict[str, Any]], mid: str, site: str | None
) -> list[dict[str, Any]]:
    level, unit = ("site", site) if site else ("system", "all")
    return [
        s
        for s in signals
        if s.get("measure_id") == mid and s.get("level") == level and str(s.get("unit_id")) == unit
    ]


def _tile(m: dict[str, Any], site: str | None, signals: list[dict[str, Any]]) -> dict[str, Any]:
    """One measure's tile; ``signals`` are the current ones (as in the attention list)."""
    mid = m["measure_id"]
    monthly = _series(mid, site, "month")
    quarterly = _series(mid, site, "quarter")
    cur_type, cur = (
        ("quarter", _first(an.latest_complete(quarterly)))
        if quarterly
        else ("month", _first(an.latest_complete(monthly)))
    )
    frame = an.control_frame(monthly[-24:], m)
    spark = None
    if frame is not None:
        spark = charts.sparkline(frame, title=m["title"], y_title=an.y_title(m))
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
        "period": an.period_label(cur_type, cur["period_start"]) if cur else "–",
        "value": an.fmt_value(cur.get("rate"), m) if cur else "–",
        "n": int(cur["denominator"]) if cur and an.num(cur.get("denominator")) else None,
        "oe": an.fmt_oe(cur.get("oe"), cur.get("ci_low"), cur.get("ci_high")) if cur else "–",
        "target": an.fmt_value(m.get("target"), m) if an.num(m.get("target")) is not None else None,
        "target_status": an.target_status(cur.get("rate"), m) if cur else None,
        "badge": badge[0],
        "badge_label": badge[1],
        "url": reverse("quality:measure", args=[mid])
        + (f"?{urlencode({'site': site})}" if site else ""),
    }


@capability_required(DASHBOARD)
def dashboard(request: HttpRequest) -> HttpResponse:
    """One tile per measure and the list of current signals (issue 6 §2)."""
    try:
        measures = results.call("list_measures")
        sites = _sites(measures)
        try:
            site = _site_param(request, sites)
        except ValueError as exc:
            return HttpResponseBadRequest(str(exc))
        signals = results.call("signals", site_id=site)
    except NoResults as exc:
        return _empty(request, exc, "Dashboard")
    # Chairs (department scope) see named only the practitioners of their own departments,
    # as on the measure pages' funnels (ARCHITECTURE.md §7).
    show_prac = request.user.has_perm(perm(PRACTITIONERS))
    scope = departments_of(request.user) if show_prac else None
    context = _dashboard_cached(measures, sites, site, signals, show_prac, scope)
    return render(request, "quality/dashboard.html", context)


def _dashboard_cached(
    measures: list[dict[str, Any]],
    sites: list[tuple[str, str]],
    site: str | None,
    signals: list[dict[str, Any]],
    show_prac: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    return results.derived(
        "dashboard",
        lambda: _with_body(
            "quality/_dashboard_body.html",
            _dashboard_context(measures, sites, site, signals, show_prac, scope),
        ),
        site,
        show_prac,
        sorted(scope) if scope is not None else None,
    )


def _measure_cached(
    m: dict[str, Any],
    sites: list[tuple[str, str]],
    site: str | None,
    can_drill: bool,
    named: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    return results.derived(
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
    measures = results.call("list_measures")
    sites = _sites(measures)
    signals = results.call("signals", site_id=None)
    built = 0
    for show_prac in (True, False):
        _dashboard_cached(measures, sites, None, signals, show_prac)
        built += 1
    for m in measures:
        for can_drill in (True, False):
            for named in (True, False):
                _measure_cached(m, sites, None, can_drill, named)
                built += 1
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
    measures: list[dict[str, Any]],
    sites: list[tuple[str, str]],
    site: str | None,
    signals: list[dict[str, Any]],
    show_prac: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    months = (
        an.complete_periods(_series(measures[0]["measure_id"], site, "month")) if measures else []
    )
    last = months[-1] if months else None
    current = an.current_signals(signals, last)
    tiles = [_tile(m, site, current) for m in measures]
    titles = {m["measure_id"]: m["title"] for m in measures}
    attention = []
    for s in current:
        if s.get("measure_id") not in titles:
            continue
        named = _names(s, show_prac, scope)
        item = {
            **an.describe_signal(s, show_practitioner=named),
            "measure_title": titles.get(s.get("measure_id"), s.get("measure_id")),
            "url": reverse("quality:measure", args=[s["measure_id"]]),
        }
        if show_prac and not named:  # a chair, and a practitioner of another department
            item["who"] = OTHER_DEPARTMENT
            item["who_hidden"] = "other departments"
        attention.append(item)
    attention = an.group_funnel_signals(attention)
    return {
        "tiles": tiles,
        "sites": sites,
        "site": site,
        "attention_worse": [s for s in attention if s.get("direction") == "worse"],
        "attention_better": [s for s in attention if s.get("direction") != "worse"],
        "site_name": dict(sites).get(site or "", "All sites"),
        "as_of": an.period_label("month", last) if last else None,
    }


def _names(signal: dict[str, Any], show_prac: bool, scope: list[str] | None) -> bool:
    """Whether the attention list names this signal's practitioner: roles with practitioner
    names see all, a chair only those with stays in their departments (any period)."""
    if not show_prac or signal.get("level") != "practitioner":
        return show_prac
    if scope is None:
        return True
    return str(signal.get("unit_id")) in practitioners_of(str(signal["measure_id"]), None, scope)


def _find(mid: str) -> dict[str, Any]:
    for m in results.call("list_measures"):
        if m["measure_id"] == mid:
            return m
    raise Http404(f"no measure {mid!r}")


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def _latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return an.latest_complete(rows)


def _table(
    m: dict[str, Any], site: str | None, can_drill: bool
) -> tuple[str, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    period = "–"
    for level in TABLE_LEVELS:
        rows = _latest_rows(
            results.call(
                "results", m["measure_id"], period_type="quarter", level=level, site_id=site
            )
        )
        if level == "site" and site:
            rows = [r for r in rows if str(r["unit_id"]) == site]
        for r in sorted(rows, key=lambda r: str(r.get("unit_name"))):
            period = an.period_label("quarter", r["period_start"])
            drill = None
            if can_drill:
                drill = (
                    reverse("quality:patients", args=[m["measure_id"]])
                    + "?"
                    + urlencode(
                        {
                            "period_type": "quarter",
                            "period_start": an.as_date(r["period_start"]),
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
    return period, out


def practitioners_of(measure_id: str, year: Any, departments: list[str]) -> set[str]:
    """Practitioners with stays in these departments (in that year; None = any time), for a
    chair's scope. Read from the long rows of the chair's own departments only; not shown, so
    not access-logged."""
    ids: set[str] = set()
    for dept in departments:
        rows = results.call(
            "long_rows",
            measure_id,
            period_type="year" if year else None,
            period_start=an.as_date(year) if year else None,
            level="department",
            unit_id=dept,
            limit=1_000_000,
            details=False,
        )
        ids |= {str(r["practitioner_id"]) for r in rows if r.get("practitioner_id")}
    return ids


def _funnel(
    m: dict[str, Any], site: str | None, named: bool, scope: list[str] | None = None
) -> dict[str, Any] | None:
    """Practitioner funnel; with a department ``scope`` (chairs) only the practitioners of
    those departments are named (ARCHITECTURE.md §7)."""
    rows = _latest_rows(
        results.call(
            "results", m["measure_id"], period_type="year", level="practitioner", site_id=site
        )
    )
    frame = an.funnel_frame(rows, m)
    if frame is None:
        return None
    if named and scope is not None:
        mine = practitioners_of(m["measure_id"], rows[0]["period_start"], scope)
        frame = frame.assign(
            name=[
                n if lbl in mine else OTHER_DEPARTMENT
                for lbl, n in zip(frame["label"], frame["name"], strict=True)
            ]
        )
    risk = bool(m.get("risk_adjusted"))
    year = an.period_label("year", rows[0]["period_start"])
    spec = charts.funnel(
        frame,
        title=f"Practitioners, {year}",
        named=named,
        x_title="Expected events" if risk else "Stays (denominator)",
        y_title="Observed / expected" if risk else "Rate",
        target=1.0 if risk else float(frame["numerator"].sum() / frame["denominator"].sum()),
        lower_better=m.get("direction", "lower") == "lower",
    )
    outliers = frame[frame["outlier_95"].astype(bool)].sort_values("ratio_or_rate", ascending=False)
    lower_better = m.get("direction", "lower") == "lower"
    named_list = []
    for r in outliers.to_dict("records") if named else []:
        if r["name"] == OTHER_DEPARTMENT:
            continue
        high = r["ratio_or_rate"] > r["ucl_95"]
        named_list.append(
            {
                "name": r["name"],
                "ratio": r["ratio_or_rate"],
                "limit": "99.8%" if r["outlier_99_8"] else "95%",
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
        "year": year,
        "n": len(frame),
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
            return HttpResponseBadRequest(str(exc))
        can_drill = request.user.has_perm(perm(PATIENTS))
        named = request.user.has_perm(perm(PRACTITIONERS))
        scope = departments_of(request.user) if named else None
        context = _measure_cached(m, sites, site, can_drill, named, scope)
    except NoResults as exc:
        return _empty(request, exc, "Measure")
    return render(request, "quality/measure.html", context)


def _measure_context(
    m: dict[str, Any],
    sites: list[tuple[str, str]],
    site: str | None,
    can_drill: bool,
    named: bool,
    scope: list[str] | None = None,
) -> dict[str, Any]:
    measure_id = m["measure_id"]
    monthly = _series(measure_id, site, "month")
    period, table = _table(m, site, can_drill)
    funnel = _funnel(m, site, named, scope)
    card = results.call("model_card", measure_id)
    frame = an.control_frame(monthly, m)
    control = None
    if frame is not None:
        control = charts.control_chart(frame, title=f"{m['title']} by month", y_title=an.y_title(m))
    calib = None
    if card and card.get("calibration"):
        calib = charts.calibration(
            card["calibration"], title="Calibration", percent=an.is_percent(m)
        )
    target = an.fmt_value(m.get("target"), m) if an.num(m.get("target")) is not None else None
    signals = (
        [s for s in frame.to_dict("records") if s["sigma_signal"]] if frame is not None else []
    )
    # The chart's numbers as a table too (screen readers, copying into a report).
    chart_rows = [
        {
            "month": an.period_label("month", r["x"]),
            "y": an.num(r["y"]),
            "cl": an.num(r["cl"]),
            "lcl": an.num(r["lcl"]),
            "ucl": an.num(r["ucl"]),
            "signal": bool(r["sigma_signal"] or r["runs_signal"]),
        }
        for r in (frame.to_dict("records") if frame is not None else [])
    ]
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
        "signals": signals,
    }


def _drill_params(request: HttpRequest) -> dict[str, Any]:
    g = request.GET
    period_type = g.get("period_type") or None
    if period_type is not None and period_type not in PERIOD_TYPES:
        raise ValueError("period_type must be month, quarter or year")
    start = g.get("period_start") or None
    period_start = date.fromisoformat(start) if start else None
    level = g.get("level") or None
    if level is not None and level not in DRILL_LEVELS:
        raise ValueError(f"level must be one of {', '.join(DRILL_LEVELS)}")
    unit_id = g.get("unit_id") or None
    return {
        "period_type": period_type,
        "period_start": period_start,
        "level": level,
        "unit_id": unit_id,
    }


def scoped_long_rows(
    user: Any, measure_id: str, params: dict[str, Any], limit: int = DRILL_LIMIT
) -> list[dict[str, Any]]:
    """Patient-level rows, restricted to a chair's departments (ARCHITECTURE.md §7)."""
    scope = departments_of(user)
    if (
        scope is not None
        and params.get("level") == "department"
        and params.get("unit_id") not in scope
    ):
        raise PermissionDenied("outside your departments")
    # The scope filters before the limit, so a chair gets up to ``limit`` of their own stays.
    return list(
        results.call(
            "long_rows",
            measure_id,
            limit=limit,
            departments=sorted(scope) if scope is not None else None,
            **params,
        )
    )


@capability_required(PATIENTS)
def patients(request: HttpRequest, measure_id: str) -> HttpResponse:
    """The stays behind a number; every view is written to the access log."""
    try:
        params = _drill_params(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
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
                {**_dx(d.get("code"), d.get("display")), "poa": POA_LABELS.get(d.get("poa"))}
                for d in r.get("secondary_dx") or []
            ],
            "outcome": an.fmt_value(r.get("outcome"), {**m, "unit": ""})
            if m.get("kind") == "mean"
            else ("Yes" if an.num(r.get("outcome")) else "No"),
            "expected": an.fmt_value(r.get("expected"), m)
            if m.get("kind") == "proportion"
            else an.fmt_value(r.get("expected"), m),
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


def _unit_names(measure_id: str, level: str) -> dict[str, str]:
    """Names of a level's units (departments, wards, practitioners) from the yearly results,
    so the drill-down reads "Cardiology", not "org-h1-cardiology"."""
    rows = results.call("results", measure_id, period_type="year", level=level)
    return {str(r["unit_id"]): str(r["unit_name"]) for r in rows if r.get("unit_name")}


def _unit_name(measure_id: str, params: dict[str, Any]) -> str | None:
    """The name of the drilled unit (a site's or ward's name rather than its id)."""
    level, unit_id = params.get("level"), params.get("unit_id")
    if not level or level == "system" or not unit_id:
        return None
    rows = results.call(
        "results",
        measure_id,
        period_type=params.get("period_type") or "month",
        level=level,
        unit_id=unit_id,
    )
    return str(rows[-1].get("unit_name") or unit_id) if rows else str(unit_id)
