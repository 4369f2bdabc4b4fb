"""Safety analytics, de-identified: the registry's safety measures, their strata, and "did it
work?" for an action of an RCA² plan.

The rates are measures of the registry (``cmo.measures.library.safety_*``: SAFETY_EVENTS,
SAFETY_HARM, NEAR_MISS_RATIO, SAFETY_CLOSE), built from this module's export
``app__safety_event`` (:func:`event_table`) and the NHSN patient days of the warehouse; this
module reads their results and control charts through quality's doors
(``cmo.quality.interface``) and computes none of them. What the registry does not keep, the
strata by event type and harm level, is counted here from the event rows over the registry's
patient days (SAFETY_EVENTS' exposure) and charted on the SPC engine's u-chart
(``cmo.stats.spc``, qicharts2 semantics). Nothing here carries a patient, practitioner or
reporter identity, so the board and the warehouse export may use it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from cmo.errors import CmoError
from cmo.measures.api import ChartLevel
from cmo.measures.safety import EXPORT_SCHEMA
from cmo.safety import models as m
from cmo.stats.spc import control_chart, runs_analysis

BREAKDOWNS = ("all", "unit", "event_type", "harm")
PER = 1000  # events per 1,000 patient days
MIN_POINTS = 6  # fewer months than this make no chart
RATE = "SAFETY_EVENTS"  # the registry's event rate: its exposure is the patient days
MEASURES = ("SAFETY_EVENTS", "SAFETY_HARM", "NEAR_MISS_RATIO", "SAFETY_CLOSE")
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


def patient_days(unit: str | None = None) -> pd.DataFrame:
    """Patient days by month (columns month, patient_days) of a unit (or the system): the
    exposure of the registry's SAFETY_EVENTS (the NHSN census), over the months it has."""
    from cmo.quality.interface import results

    if unit:
        rows = results(RATE, period_type="month", level="unit", unit_id=unit)
    else:
        rows = results(RATE, period_type="month", level="system")
    df = pd.DataFrame(rows, columns=["period_start", "exposure"])
    return pd.DataFrame(
        {
            "month": pd.to_datetime(df["period_start"]).dt.date,
            "patient_days": pd.to_numeric(df["exposure"], errors="coerce").fillna(0.0),
        }
    ).sort_values("month")


def monthly_rate(events: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """Events by month of occurrence over ``days`` (month, patient_days): columns month,
    events, patient_days, over the months that have patient days."""
    out = days[days["patient_days"] > 0].copy()
    counts = events.assign(month=_months(events)).groupby("month").size() if len(events) else None
    out["events"] = out["month"].map(counts).fillna(0).astype(float) if counts is not None else 0.0
    return out[["month", "events", "patient_days"]].reset_index(drop=True)


def u_chart(series: pd.DataFrame, *, freeze: int | None = None) -> pd.DataFrame | None:
    """u-chart (events per 1,000 patient days) of a monthly series, or None if too short."""
    s = series[series["patient_days"] > 0]
    if len(s) < MIN_POINTS:
        return None
    x = pd.to_datetime(pd.Series(list(s["month"])))
    return control_chart(
        s["events"], s["patient_days"], chart="u", x=x, freeze=freeze, multiply=PER
    )


def summary(events: pd.DataFrame) -> dict[str, Any]:
    """The registry's safety measures for the system in the latest complete quarter (value,
    unit, numerator; None where the build has no result), and the harm mix of the events."""
    from cmo.quality.interface import latest_complete, list_measures, results

    specs = {r["measure_id"]: r for r in list_measures() if r["measure_id"] in MEASURES}
    quarter = latest_complete("quarter")
    rows = []
    for mid in MEASURES:
        spec = specs.get(mid)
        if spec is None:
            continue
        found = (
            results(mid, period_type="quarter", level="system", period_start=quarter)
            if quarter
            else []
        )
        r = found[0] if found else None
        rate = None if r is None else r.get("rate")
        value = None if rate is None else float(rate)
        if value is not None and spec.get("unit") == "%":
            value *= 100.0
        rows.append(
            {
                "measure_id": mid,
                "title": spec["title"],
                "unit": spec.get("unit") or "",
                "direction": spec.get("direction"),
                "value": value,
                "numerator": None if r is None else r.get("numerator"),
            }
        )
    return {
        "quarter": quarter,
        "measures": rows,
        "n_events": len(events),
        "harm": events["harm"].fillna("n/a").value_counts().to_dict(),
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


def _stored_chart(
    mid: str, level: ChartLevel, unit: str, title: str, i: int
) -> dict[str, Any] | None:
    """The registry's control chart of a measure (``quality__chart_point``) as the app's chart."""
    from cmo.quality.interface import chart

    points = chart(mid, level=level, unit_id=unit)
    if not points:
        return None
    frame = pd.DataFrame(
        {
            "x": pd.to_datetime([p["period_start"] for p in points]),
            "y": [p["y"] for p in points],
            "cl": [p["cl"] for p in points],
            "ucl": [p["ucl"] for p in points],
            "lcl": [p["lcl"] for p in points],
            "n": [p["denominator"] for p in points],
            "sigma_signal": [bool(p["sigma_signal"]) for p in points],
            "runs_signal": [bool(p["runs_signal"]) for p in points],
        }
    )
    return {"id": f"u-{i}", "title": title, "spec": _chart_spec(frame, title)}


def page_context(by: str) -> dict[str, Any]:
    """The analytics page: the registry's safety measures, and one u-chart per group of
    ``by``: the registry's own charts for all events and for units, the strata by event type
    and harm level over the registry's patient days."""
    from cmo.quality.interface import NoResults, results

    events = event_rows()
    try:
        facts = summary(events)
        days = patient_days()
    except NoResults as exc:
        return {"summary": None, "charts": [], "problem": f"{exc} ({exc.hint})"}
    if days.empty:
        return {
            "summary": facts,
            "charts": [],
            "problem": "The measures build has no safety event rates yet: they are built from "
            "the events the sync exports (cmo measures run, or cmo demo).",
        }
    charts: list[dict[str, Any]] = []
    if by == "all":
        charts = [c for c in [_stored_chart(RATE, "system", "all", "All safety events", 0)] if c]
    elif by == "unit":
        year = results(RATE, period_type="year", level="unit")
        top = (
            pd.DataFrame(year, columns=["unit_id", "unit_name", "numerator"])
            .groupby(["unit_id", "unit_name"])["numerator"]
            .sum()
            .sort_values(ascending=False)
            .index[:8]
        )
        made = [_stored_chart(RATE, "unit", u, name, i) for i, (u, name) in enumerate(top)]
        charts = [c for c in made if c]
    else:
        labels = dict(m.EventType.choices if by == "event_type" else m.Harm.choices)
        top = events[by].dropna().value_counts().index[:8]
        for i, v in enumerate(top):
            frame = u_chart(monthly_rate(events[events[by] == v], days))
            if frame is not None:
                title = labels.get(v, v)
                charts.append({"id": f"u-{i}", "title": title, "spec": _chart_spec(frame, title)})
    return {"summary": facts, "charts": charts, "problem": None}


def _measure_series(action: m.Action) -> pd.DataFrame | None:
    """The monthly series (month, events, patient_days) of the action's safety rate: all
    events are the registry's SAFETY_EVENTS at the unit; an event type is counted here over
    the same patient days."""
    if action.measure_id == "all":
        return _registry_series(RATE, action)
    events = event_rows()
    events = events[events["event_type"] == action.measure_id]
    unit = action.unit.code if action.unit else None
    if unit:
        events = events[events["unit_id"] == unit]
    return monthly_rate(events, patient_days(unit))


def _registry_series(measure_id: str, action: m.Action) -> pd.DataFrame | None:
    """A registry measure's monthly results at the action's unit (or the system) as a count
    series: numerator over its exposure (patient or device days) when it has one, else over
    its denominator (charted per 1,000 of it)."""
    from cmo.quality.interface import list_measures, results

    if action.unit:
        rows = results(measure_id, period_type="month", level="unit", unit_id=action.unit.code)
    else:
        rows = results(measure_id, period_type="month", level="system")
    if not rows:
        return None
    df = pd.DataFrame(rows)
    raw = df["exposure"] if "exposure" in df else pd.Series(np.nan, index=df.index)
    exposure = pd.to_numeric(raw, errors="coerce")
    # A rate's exposure is its denominator (device or patient days); a survey measure's
    # exposure (responders) is not.
    kind = next((r.get("kind") for r in list_measures() if r["measure_id"] == measure_id), None)
    per_exposure = kind == "rate" and bool(exposure.notna().any())
    size = exposure if per_exposure else df["denominator"].astype(float)
    return pd.DataFrame(
        {
            "month": pd.to_datetime(df["period_start"]).dt.date,
            "events": df["numerator"].astype(float),
            "patient_days": size.fillna(0.0).astype(float),
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
            else _registry_series(action.measure_id, action)
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
            else "Per 1,000 of the measure's exposure (or denominator)",
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
