"""Safety analytics, de-identified: events per 1,000 patient days (u-charts by unit, type and
harm), the reporting rate, the near-miss ratio and days to close; and "did it work?" for an
action of an RCA² plan.

Control charts come from the SPC engine (``cmo.stats.spc``, qicharts2 semantics: u-chart
limits per Montgomery, runs rules per Anhøj & Olesen 2014); patient days from the warehouse
(``core__stay_unit``). Nothing here carries a patient, practitioner or reporter identity, so
the board and the warehouse export (``app__safety_event``) may use it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from cmo.errors import CmoError
from cmo.safety import models as m
from cmo.stats.spc import control_chart, runs_analysis

BREAKDOWNS = ("all", "unit", "event_type", "harm")
PER = 1000  # events per 1,000 patient days
MIN_POINTS = 6  # fewer months than this make no chart
# The de-identified export (``app__safety_event``): column -> Arrow type, so an empty table
# still has its columns and types.
EXPORT_SCHEMA = {
    "event_id": "int64",
    "source": "string",
    "event_type": "string",
    "category": "string",
    "harm": "string",
    "merp": "string",
    "occurred_date": "date32",
    "reported_date": "date32",
    "closed_date": "date32",
    "days_to_close": "int64",
    "site_id": "string",
    "department_id": "string",
    "unit_id": "string",
    "status": "string",
    "sre": "string",
    "sentinel": "bool_",
    "anonymous": "bool_",
    "route": "string",
}
EXPORT_COLUMNS = list(EXPORT_SCHEMA)


def event_rows() -> pd.DataFrame:
    """Every event except merged duplicates, one row each, without any identity: the rows the
    app→warehouse sync writes as ``app__safety_event`` (the reporting rate, near-miss ratio,
    harm mix and days to close are computed from them)."""
    rows = []
    qs = m.Event.objects.exclude(status=m.Status.MERGED).select_related(
        "site", "unit", "department"
    )
    for e in qs:
        closed = e.closed_at.date() if e.closed_at else None
        rows.append(
            {
                "event_id": e.pk,
                "source": e.source,
                "event_type": e.event_type,
                "category": e.category,
                "harm": e.harm or None,
                "merp": e.merp or None,
                "occurred_date": e.occurred_at.date(),
                "reported_date": e.reported_at.date(),
                "closed_date": closed,
                "days_to_close": (closed - e.reported_at.date()).days if closed else None,
                "site_id": e.site.code if e.site else None,
                "department_id": e.department.code if e.department else None,
                "unit_id": e.unit.code if e.unit else None,
                "status": e.status,
                "sre": e.sre or None,
                "sentinel": e.sentinel,
                "anonymous": e.anonymous,
                "route": e.route or None,
            }
        )
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


def event_table() -> Any:
    """:func:`event_rows` as an Arrow table with :data:`EXPORT_SCHEMA`: the safety domain's
    table export (``Domain.export_tables``), written to the warehouse as ``app__safety_event``
    so the board report and the builds can count events without any identity."""
    import pyarrow as pa

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in EXPORT_SCHEMA.items()])
    rows = event_rows().astype(object).where(lambda d: d.notna(), None)
    return pa.Table.from_pylist(rows.to_dict("records"), schema=schema)


def _months(df: pd.DataFrame, column: str = "occurred_date") -> pd.Series:
    return pd.to_datetime(df[column]).dt.to_period("M").dt.start_time.dt.date


def monthly_rate(
    events: pd.DataFrame, days: pd.DataFrame, *, units: list[str] | None = None
) -> pd.DataFrame:
    """Events and patient days by month (columns month, events, patient_days), over the months
    that have patient days; ``units`` restricts both to those unit ids."""
    if units is not None:
        events = events[events["unit_id"].isin(units)]
        days = days[days["unit_id"].isin(units)]
    denom = days.groupby("month")["patient_days"].sum()
    counts = events.assign(month=_months(events)).groupby("month").size() if len(events) else None
    out = pd.DataFrame({"patient_days": denom})
    out["events"] = counts.reindex(out.index).fillna(0) if counts is not None else 0.0
    return out.reset_index().rename(columns={"index": "month"}).sort_values("month")


def u_chart(series: pd.DataFrame, *, freeze: int | None = None) -> pd.DataFrame | None:
    """u-chart (events per 1,000 patient days) of a monthly series, or None if too short."""
    s = series[series["patient_days"] > 0]
    if len(s) < MIN_POINTS:
        return None
    x = pd.to_datetime(pd.Series(list(s["month"])))
    return control_chart(
        s["events"], s["patient_days"], chart="u", x=x, freeze=freeze, multiply=PER
    )


def _window(events: pd.DataFrame) -> tuple[date, date] | None:
    if events.empty:
        return None
    first = min(events["occurred_date"])
    last = max(events["occurred_date"])
    start = date(first.year, first.month, 1)
    end = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return start, end


def _patient_days(start: date, end: date) -> pd.DataFrame:
    from cmo.safety.warehouse import patient_days

    return patient_days(start, end)


def summary(events: pd.DataFrame, days: pd.DataFrame) -> dict[str, Any]:
    """Reporting rate, near-miss ratio, harm mix and days to close over the whole window."""
    total_days = float(days["patient_days"].sum()) if len(days) else 0.0
    reports = events[events["source"] != m.Source.EHR]
    incidents = int((events["category"] == m.Category.INCIDENT).sum())
    near = int((events["category"] == m.Category.NEAR_MISS).sum())
    closed = events["days_to_close"].dropna()
    return {
        "n_events": len(events),
        "patient_days": int(total_days),
        # A safety-culture indicator: more reports per patient day is better (AHRQ SOPS).
        "reporting_rate": PER * len(reports) / total_days if total_days else None,
        "near_miss_ratio": near / incidents if incidents else None,
        "harm": events["harm"].fillna("n/a").value_counts().to_dict(),
        "median_days_to_close": float(np.median(closed)) if len(closed) else None,
        "n_closed": len(closed),
        "anonymous_share": float(events["anonymous"].mean()) if len(events) else None,
    }


RATE_TITLE = "Events per 1,000 patient days"


def _chart_spec(
    frame: pd.DataFrame, title: str, phase: date | None = None, y_title: str = RATE_TITLE
) -> dict[str, Any]:
    """The app's control-chart spec (cmo.stats.charts, one look across the app), with the
    action date marked as a phase line."""
    from cmo.stats.charts import control_chart_spec

    marks = [{"x": phase.isoformat(), "text": "Action"}] if phase is not None else None
    return control_chart_spec(
        frame, title=title, y_title=y_title, x_title="Month", annotations=marks, width="container"
    )


def page_context(by: str) -> dict[str, Any]:
    """The analytics page: the summary and one u-chart per group of ``by``."""
    events = event_rows()
    window = _window(events)
    if window is None:
        return {"summary": None, "charts": [], "problem": "No safety events yet."}
    try:
        days = _patient_days(*window)
    except CmoError as exc:
        return {"summary": None, "charts": [], "problem": f"{exc.message} ({exc.hint})"}
    groups: list[tuple[str, pd.DataFrame, list[str] | None]]
    if by == "unit":
        from cmo.directory.models import Unit

        names = dict(Unit.objects.values_list("code", "name"))
        top = events["unit_id"].dropna().value_counts().index[:8]
        groups = [(names.get(u, u), events, [u]) for u in top]
    elif by in ("event_type", "harm"):
        labels = dict(m.EventType.choices if by == "event_type" else m.Harm.choices)
        top = events[by].dropna().value_counts().index[:8]
        groups = [(labels.get(v, v), events[events[by] == v], None) for v in top]
    else:
        groups = [("All safety events", events, None)]
    charts = []
    for i, (title, ev, units) in enumerate(groups):
        frame = u_chart(monthly_rate(ev, days, units=units))
        if frame is not None:
            charts.append({"id": f"u-{i}", "title": title, "spec": _chart_spec(frame, title)})
    return {"summary": summary(events, days), "charts": charts, "problem": None}


def _measure_series(action: m.Action) -> pd.DataFrame | None:
    """The monthly series (month, events, patient_days) of the action's safety measure."""
    if action.measure_kind != m.MeasureKind.SAFETY:
        return None
    events = event_rows()
    if action.measure_id != "all":
        events = events[events["event_type"] == action.measure_id]
    # Months without events count (as zeros): the chart spans two years before the action
    # to today, wherever the warehouse has patient days.
    phase = action.phase_date
    start = date(phase.year - 2, phase.month, 1)
    end = max([*events["occurred_date"], phase, date.today()])
    days = _patient_days(date(start.year, start.month, 1), end)
    units = [action.unit.code] if action.unit else None
    return monthly_rate(events, days, units=units)


def _quality_series(action: m.Action) -> pd.DataFrame | None:
    """A quality measure's monthly results at the action's unit (or system) as a count series:
    numerator over denominator (charted per 1,000 of the denominator)."""
    from cmo.quality.interface import results

    if action.unit:
        rows = results(
            action.measure_id, period_type="month", level="unit", unit_id=action.unit.code
        )
    else:
        rows = results(action.measure_id, period_type="month", level="system")
    if not rows:
        return None
    df = pd.DataFrame(rows)
    return pd.DataFrame(
        {
            "month": pd.to_datetime(df["period_start"]).dt.date,
            "events": df["numerator"].astype(float),
            "patient_days": df["denominator"].astype(float),
        }
    ).sort_values("month")


def _measure_title(action: m.Action) -> str:
    what = dict(m.EventType.choices).get(action.measure_id, action.measure_id)
    if action.measure_id == "all":
        what = "All safety events"
    return f"{what} · {action.unit.name}" if action.unit else str(what)


def action_effect(action: m.Action) -> dict[str, Any]:
    """Did it work? The measure's control chart with the baseline frozen at the months before
    the action, the action date as a phase line, and the verdict by the engine's rules:

    - a *shift* followed when the points after the action, against the baseline centre line,
      break the Anhøj runs rules on the better (lower) side, or one falls below the lower
      limit (Provost & Murray, The Health Care Data Guide, 2011, ch. 6: freeze the baseline,
      then look for special cause after the change);
    - separately, whether the special cause that preceded the action (points above the
      upper limit) recurred after it.
    """
    from cmo.quality.interface import NoResults

    try:
        series = (
            _measure_series(action)
            if action.measure_kind == m.MeasureKind.SAFETY
            else _quality_series(action)
        )
    except CmoError as exc:
        return {"problem": f"{exc.message} ({exc.hint})"}
    except NoResults as exc:
        return {"problem": f"{exc} ({exc.hint})"}
    except (LookupError, ValueError) as exc:  # an unknown quality measure: say so, not a 500
        return {"problem": f"The measure {action.measure_id!r} could not be read: {exc}"}
    if series is None or series.empty:
        return {"problem": f"No data for the measure {action.measure_id!r} yet."}
    cut = pd.Timestamp(action.phase_date).to_period("M").start_time.date()
    series = series[series["patient_days"] > 0]
    n_before = int((series["month"] < cut).sum())
    if n_before < MIN_POINTS:
        return {"problem": f"Only {n_before} months before the action: a baseline needs 6."}
    frame = u_chart(series, freeze=n_before)
    if frame is None:
        return {"problem": "Too few months for a chart."}
    before, after = frame.iloc[:n_before], frame.iloc[n_before:]
    runs = runs_analysis(after["y"], after["cl"]) if len(after) else None
    below = bool((after["y"] < after["lcl"]).any()) if len(after) else False
    lower_side = bool(len(after) and (after["y"] < after["cl"]).sum() > len(after) / 2)
    shift = bool(lower_side and ((runs and runs["runs_signal"]) or below))
    return {
        "problem": None,
        "spec": _chart_spec(
            frame,
            _measure_title(action),
            phase=cut,
            y_title=RATE_TITLE
            if action.measure_kind == m.MeasureKind.SAFETY
            else "Per 1,000 of the measure's denominator",
        ),
        "n_before": n_before,
        "n_after": len(after),
        "baseline": float(before["cl"].iloc[0]),
        "after_rate": float(PER * after["y_sum"].sum() / (after["n"].sum() or np.nan))
        if len(after)
        else None,
        "runs": runs,
        "shift": shift,
        "before_signals": int(before["sigma_signal"].sum()),
        "after_signals_above": int((after["y"] > after["ucl"]).sum()),
    }
