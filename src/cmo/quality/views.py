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
    FunnelWindow,
    Level,
    LongRow,
    MeasureRow,
    PeriodType,
    ResultRow,
    SignalRow,
)
from cmo.quality import analysis as an
from cmo.quality import cusum, reads
from cmo.quality.apps import DASHBOARD, PATIENTS, PRACTITIONERS, SET_TARGETS
from cmo.quality.forms import DrillForm, MeasurePageForm, SiteForm, bad_request
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
# The measure page's period choice: the latest complete month, quarter or year, or the rolling
# 12 or 24 months ending at the latest complete month (offered when the build stored them).
PERIOD_CHOICES: tuple[tuple[PeriodType, str], ...] = (
    ("month", "Latest complete month"),
    ("quarter", "Latest complete quarter"),
    ("year", "Latest complete year"),
    ("rolling12", "Rolling 12 months"),
    ("rolling24", "Rolling 24 months"),
)
ROLLING: tuple[PeriodType, ...] = ("rolling12", "rolling24")


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
        # The number in the headline font; its unit and its device days or response rate
        # in the small line beside the period.
        "value": an.fmt_number(cur.get("rate"), m) if cur else "–",
        "value_unit": an.value_unit(m) if cur else "",
        "exposure": an.fmt_exposure(cur, m) if cur else None,  # type: ignore[arg-type]
        "n": int(cur["denominator"])
        if cur and an.num(cur.get("denominator")) and m.get("kind") != "rate"
        else None,
        # What the denominator counts: stays, or events (the safety measures' rows).
        "n_word": "events" if str(m.get("unit_of_analysis") or "").endswith("event") else "stays",
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
        context["own_pages"] = _own_pages(request.user)
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


def _own_pages(user: Any) -> list[str]:
    """Links to the user's own practitioner page (the directory links users to practitioners)."""
    from cmo.quality.apps import OWN_RESULTS
    from cmo.quality.pages import own_practitioners, unit_url

    if not (user.has_perm(perm(OWN_RESULTS)) or user.has_perm(perm(PRACTITIONERS))):
        return []
    return [u for p in sorted(own_practitioners(user)) if (u := unit_url("practitioner", p))]


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
    period_type: PeriodType = "quarter",
) -> dict[str, Any]:
    goal = _targets().get(m["measure_id"])
    return derived(
        "measure",
        lambda: _with_body(
            "quality/_measure_body.html",
            _measure_context(m, sites, site, can_drill, named, scope, period_type, goal),
        ),
        m["measure_id"],
        site,
        can_drill,
        named,
        sorted(scope) if scope is not None else None,
        period_type,
        goal,
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
    # A measure with no "better" direction (e.g. a case-mix index) raises no signal: a change
    # in it is neither good nor bad news.
    directed = {m["measure_id"] for m in measures if m.get("direction") in ("lower", "higher")}
    current = an.order_signals([s for s in signals if s.get("measure_id") in directed])
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
    by_id = {m["measure_id"]: m for m in measures}
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
        if s.get("kind") == "sigma" and s.get("level") in ("system", "site"):
            item["detail"] = _chart_detail(by_id[s["measure_id"]], s)
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


def _chart_detail(m: MeasureRow, s: SignalRow) -> str:
    """A control-chart signal's numbers on the chart's own scale and named: a p chart's
    proportions as percentages, an O/E chart's as O/E, a mean with its unit."""
    import re

    level, unit = ("site", str(s.get("unit_id"))) if s.get("level") == "site" else ("system", "all")
    points = reads.chart(m["measure_id"], level=level, unit_id=unit)  # type: ignore[arg-type]
    kind = points[0]["chart"] if points else "i"
    detail = str(s.get("detail") or "")
    if kind == "p" and an.is_percent(m):
        detail = re.sub(r"\d+(?:\.\d+)?", lambda x: f"{float(x.group()) * 100:.1f}%", detail)
    detail = re.sub(r"(\d%?)-(\d)", r"\1–\2", detail)  # a range's dash, not a minus
    return f"{an.y_title(m, kind)}: {detail}" if detail else detail


def signal_url(s: SignalRow) -> str | None:
    """The page of the unit a signal names, with its year (funnel signals) or site set: a
    practitioner's, department's or unit's page; a site's measure page; the system's."""
    from cmo.quality.pages import unit_url

    level = str(s.get("level") or "")
    start = an.as_date(s.get("period_start"))
    if level in ("practitioner", "department", "unit"):
        window = str(s.get("window") or "")
        if window in ROLLING:  # a rolling funnel's signal opens the page on that window
            return unit_url(level, s.get("unit_id"), window)
        year = date(start.year, 1, 1) if start and an.signal_months(s) == 12 else None
        return unit_url(level, s.get("unit_id"), year)
    url = reverse("quality:measure", args=[s["measure_id"]])
    if level == "site":
        url += "?" + urlencode({"site": str(s.get("unit_id"))})
    # A CUSUM alarm opens the page at the CUSUM chart it is read off.
    return url + ("#cusum" if s.get("kind") == "cusum" else "")


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


def _table(
    m: MeasureRow,
    site: str | None,
    can_drill: bool,
    period_type: PeriodType = "quarter",
    scope: list[str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The latest complete period (quarter by default) by site, department and unit; a row
    whose O/E 95% CI excludes 1 is flagged worse or better (by the measure's direction)."""
    out: list[dict[str, Any]] = []
    start = reads.latest_complete(period_type)
    if start is None:
        return "–", out
    lower_better = m.get("direction", "lower") == "lower"
    for level in TABLE_LEVELS:
        rows = reads.results(
            m["measure_id"], period_type=period_type, level=level, site_id=site, period_start=start
        )
        if level == "site" and site:
            rows = [r for r in rows if str(r["unit_id"]) == site]
        for r in sorted(rows, key=lambda r: str(r.get("unit_name"))):
            drill = None
            # A chair's drill-down shows their departments' stays only: a link is shown where
            # its stays are the row's (their own departments), never one that would disagree.
            if can_drill and (
                scope is None or (level == "department" and str(r["unit_id"]) in scope)
            ):
                drill = (
                    reverse("quality:patients", args=[m["measure_id"]])
                    + "?"
                    + urlencode(
                        {
                            "period_type": period_type,
                            "period_start": r["period_start"],
                            "level": level,
                            "unit_id": r["unit_id"],
                        }
                    )
                )
            lo, hi = an.num(r.get("ci_low")), an.num(r.get("ci_high"))
            flag = None
            if lo is not None and lo > 1.0:
                flag = "worse" if lower_better else "better"
            elif hi is not None and hi < 1.0:
                flag = "better" if lower_better else "worse"
            out.append(
                {
                    "level": an.LEVEL_LABELS[level],
                    "level_key": level,
                    "unit_id": str(r["unit_id"]),
                    "name": r.get("unit_name") or r["unit_id"],
                    "n": int(r["denominator"]),
                    "observed": an.num(r.get("numerator")),
                    "rate": an.num(r.get("rate")),
                    "value": _with_exposure(r, m),
                    "expected": an.num(r.get("expected")),
                    "oe_value": an.num(r.get("oe")),
                    "ci_low": lo,
                    "ci_high": hi,
                    "oe": an.fmt_oe(r.get("oe"), r.get("ci_low"), r.get("ci_high")),
                    "flag": flag,
                    "page": _page_of(level, r["unit_id"]),
                    "drill": drill,
                }
            )
    return an.period_label(period_type, start), out


def _page_of(level: str, unit_id: Any) -> str | None:
    from cmo.quality.pages import unit_url

    return unit_url(level, unit_id) if level in ("department", "unit") else None


def _with_exposure(r: ResultRow, m: MeasureRow) -> str:
    """The result's value, with its device days or response rate beside it when it has one."""
    value = an.fmt_value(r.get("rate"), m)
    extra = an.fmt_exposure(r, m)  # type: ignore[arg-type]
    return f"{value} · {extra}" if extra else value


def practitioners_of(measure_id: str, year: date | None, departments: list[str]) -> set[str]:
    """Practitioners with stays in these departments (in that year; None = any time), for a
    chair's scope. Ids only, from the chair's own departments; not shown, so not logged."""
    return reads.practitioners_in(measure_id, sorted(departments), year=year)


def _funnel(
    m: MeasureRow,
    site: str | None,
    named: bool,
    scope: list[str] | None = None,
    window: FunnelWindow = "year",
) -> dict[str, Any] | None:
    """The practitioner funnel of the latest complete year (or of the rolling 12 or 24
    months: ``window``), as the build computed it; with a department ``scope`` (chairs) only
    the practitioners of those departments are named (ARCHITECTURE.md §7)."""
    points = reads.funnel(m["measure_id"], level="practitioner", site_id=site, window=window)
    if not points:
        return None
    start = points[0]["period_start"]
    # A chair's names: practitioners with stays in their departments in that year (any time
    # for a rolling window, which is not a calendar year).
    year = start if window == "year" else None
    frame = pd.DataFrame(points).rename(columns={"ratio": "ratio_or_rate"})
    frame["name"] = [str(p["unit_name"] or p["unit_id"]) for p in points]
    if named and scope is not None:
        mine = practitioners_of(m["measure_id"], year, scope)
        frame["name"] = [
            n if str(uid) in mine else OTHER_DEPARTMENT
            for uid, n in zip(frame["unit_id"], frame["name"], strict=True)
        ]
    lower_better = m.get("direction", "lower") == "lower"
    label = an.period_label(window, start)
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
    """Definition and method, control chart, table by level (period of choice, CSV export),
    practitioner funnel, model card."""
    try:
        m = _find(measure_id)
        sites = _sites([m])
        try:
            site = _site_param(request, sites)
        except ValueError as exc:
            return bad_request(str(exc))
        form = MeasurePageForm(request.GET)
        if not form.is_valid():
            return bad_request(form.message())
        period_type: PeriodType = form.cleaned_data["period"] or "quarter"
        can_drill = request.user.has_perm(perm(PATIENTS))
        named = request.user.has_perm(perm(PRACTITIONERS))
        scope = scope_of(request.user).departments if named else None
        if form.cleaned_data["format"] == "csv":
            label, rows = _table(m, site, False, period_type)
            return _aggregate_csv(m, label, rows)
        context = _measure_cached(m, sites, site, can_drill, named, scope, period_type)
    except NoResults as exc:
        return _empty(request, exc, "Measure")
    return render(request, "quality/measure.html", context)


def _aggregate_csv(m: MeasureRow, label: str, rows: list[dict[str, Any]]) -> HttpResponse:
    """The table by site, department and unit as CSV (aggregates only: no patient data)."""
    import csv

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{m['measure_id']}-{label.replace(' ', '-')}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    w = csv.writer(response)
    w.writerow(
        [
            "measure_id",
            "period",
            "level",
            "unit_id",
            "name",
            "stays",
            "observed",
            "rate",
            "expected",
            "oe",
            "ci_low",
            "ci_high",
            "flag",
        ]
    )
    for r in rows:
        w.writerow(
            [
                m["measure_id"],
                label,
                r["level_key"],
                r["unit_id"],
                _csv_text(str(r["name"])),
                r["n"],
                _csv_num(r["observed"]),
                _csv_num(r["rate"]),
                _csv_num(r["expected"]),
                _csv_num(r["oe_value"]),
                _csv_num(r["ci_low"]),
                _csv_num(r["ci_high"]),
                r["flag"] or "",
            ]
        )
    return response


def _csv_num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def _csv_text(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _control(
    m: MeasureRow, site: str | None, goal: float | None = None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The monthly control chart the build computed (spec and its rows as a table), with the
    CMO's target drawn where the chart is on the target's scale (a rate or an unadjusted
    mean; an O/E chart has its own reference line)."""
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
    on_scale = kind == "p" or (kind == "i" and not m.get("risk_adjusted"))
    spec = charts.control_chart_spec(
        frame,
        title=f"{m['title']} by month",
        y_title=an.y_title(m, kind),
        x_title="Discharge month",
        width="container",
        height=260,
        target=goal * scale if goal is not None and on_scale else None,
    )
    return spec, rows


def _cusum(m: MeasureRow, site: str | None) -> dict[str, Any] | None:
    """The stored CUSUM charts (``quality__cusum``) of the chosen site, or of every site whose
    CUSUM alarmed; None for a measure the build runs no CUSUM on."""
    points = reads.cusum(m["measure_id"], site_id=site)
    if not points:
        return None
    shown = points if site else cusum.with_alarms(points)
    return {"charts": cusum.charts(shown, str(m["title"])), "site": site}


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
    period_type: PeriodType = "quarter",
    goal: tuple[float, str] | None = None,
) -> dict[str, Any]:
    measure_id = m["measure_id"]
    period, table = _table(m, site, can_drill, period_type, scope)
    # Practitioner-level results only for roles allowed practitioner names: a board member
    # (aggregates only) or a clinician sees no practitioner funnel, named or not.
    window: FunnelWindow = "rolling12" if period_type == "rolling12" else "year"
    if period_type == "rolling24":
        window = "rolling24"
    funnel = _funnel(m, site, named, scope, window) if named else None
    card = reads.model_card(measure_id)
    control, chart_rows = _control(m, site, goal[0] if goal else None)
    calib = None
    if card and card.get("calibration"):
        calib = charts.calibration_spec(
            card["calibration"], title="Calibration", percent=an.is_percent(m)
        )
    target = an.fmt_value(goal[0], m) if goal else None
    return {
        "period_type": period_type,
        "period_types": [
            (p, label) for p, label in PERIOD_CHOICES if reads.latest_complete(p) is not None
        ],
        "cusum": _cusum(m, site),
        "target_source": goal[1] if goal else None,
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
    """The stays behind a number; every view (and export) is written to the access log.

    The stays counted in the number come first (outcome first, then by discharge), so their
    count equals the table's; stays excluded from the measure are listed apart with their
    reasons. ``outcome=yes|no`` filters, ``format=csv`` exports the rows shown.
    """
    form = DrillForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    params = form.params()
    try:
        m = _find(measure_id)
        rows = scoped_long_rows(request.user, measure_id, params)
        demo = reads.stay_demographics([str(r.get("stay_id")) for r in rows])
    except NoResults as exc:
        return _empty(request, exc, "Patients")
    log_access(
        request,
        filters={"measure_id": measure_id, **params, **form.extra()},
        patient_ids=[r.get("patient_id") for r in rows],
    )
    depts = _unit_names(measure_id, "department")
    units = _unit_names(measure_id, "unit")
    pracs = (
        _unit_names(measure_id, "practitioner")
        if request.user.has_perm(perm(PRACTITIONERS))
        else {}
    )
    mean = m.get("kind") == "mean"
    shown: list[dict[str, Any]] = [
        {
            "patient_id": r.get("patient_id"),
            "mrn": demo.get(str(r.get("stay_id")), {}).get("mrn"),
            "stay_id": r.get("stay_id"),
            "age": demo.get(str(r.get("stay_id")), {}).get("age"),
            "sex": _sex(demo.get(str(r.get("stay_id")), {}).get("sex")),
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
            "outcome_value": an.num(r.get("outcome")) or 0.0,
            "outcome": an.fmt_value(r.get("outcome"), {**m, "unit": ""})
            if mean
            else ("Yes" if an.num(r.get("outcome")) else "No"),
            "expected": an.fmt_value(r.get("expected"), m),
            "excluded": r.get("exclusion_reason") if r.get("excluded") else "",
        }
        for r in rows
    ]
    outcome = form.cleaned_data.get("outcome")
    if outcome:
        shown = [r for r in shown if (r["outcome_value"] > 0) == (outcome == "yes")]
    counted = sorted(
        (r for r in shown if not r["excluded"]),
        key=lambda r: (-r["outcome_value"], r["discharge_date"] or date.min),
    )
    excluded = [r for r in shown if r["excluded"]]
    if form.cleaned_data.get("format") == "csv":
        return _patients_csv(m, counted, excluded, bool(pracs))
    label = (
        an.period_label(params["period_type"] or "month", params["period_start"])
        if params["period_start"]
        else "all periods"
    )
    base = {
        k: v
        for k, v in request.GET.items()
        if k in ("period_type", "period_start", "level", "unit_id")
    }
    return render(
        request,
        "quality/patients.html",
        {
            "m": m,
            "rows": counted,
            "excluded": excluded,
            "params": params,
            "outcome": outcome or "",
            "query": urlencode(base),
            "period_label": label,
            "limit": DRILL_LIMIT,
            "truncated": len(rows) >= DRILL_LIMIT,
            "level_label": an.LEVEL_LABELS.get(params["level"] or "system", ""),
            "unit_name": _unit_name(measure_id, params),
            "outcome_label": "Outcome" if mean else "Event",
        },
    )


def _sex(v: Any) -> str:
    """FHIR AdministrativeGender (male | female | other | unknown) for a table cell."""
    return {"male": "M", "female": "F", "other": "Other", "unknown": "Unknown"}.get(
        str(v or "").lower(), "–"
    )


def _patients_csv(
    m: MeasureRow, counted: list[dict[str, Any]], excluded: list[dict[str, Any]], named: bool
) -> HttpResponse:
    """The drill-down's rows as CSV (the view that produced them is already access-logged)."""
    import csv

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{m["measure_id"]}-stays.csv"'
    w = csv.writer(response)
    w.writerow(
        [
            "patient_id",
            "mrn",
            "stay_id",
            "age",
            "sex",
            "admitted",
            "discharged",
            "outcome",
            "expected",
            "principal_dx",
            "department",
            "unit",
            "practitioner",
            "excluded",
        ]
    )
    for r in [*counted, *excluded]:
        w.writerow(
            [
                r["patient_id"],
                r["mrn"] or "",
                r["stay_id"],
                r["age"] if r["age"] is not None else "",
                r["sex"],
                r["admit_date"] or "",
                r["discharge_date"] or "",
                r["outcome"],
                r["expected"],
                r["principal"]["code"] or "",
                _csv_text(str(r["department"] or "")),
                _csv_text(str(r["unit"] or "")),
                _csv_text(str(r["practitioner"] or "")) if named else "",
                _csv_text(str(r["excluded"] or "")),
            ]
        )
    return response


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
