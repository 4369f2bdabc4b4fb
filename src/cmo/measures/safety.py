"""The safety domain as the warehouse sees it, both ways:

- :func:`read`: the EHR's FHIR ``AdverseEvent`` records for the web's safety sync
  (``cmo.safety.sync.apply_payload``), which puts each one in the triage queue once as an
  EHR-sourced event. Each row is an ``fhir__adverse_event`` row with the department of its stay
  (``core__inpatient_stay.department_id`` via ``encounter_id``) added, so the event is scoped to
  the right chair. The rows are dicts of str / datetime / None.
- the shared stages of the safety measures (``cmo.measures.library.safety_*``): the events of
  ``app__safety_event`` (the de-identified export the app-data sync writes: every report, API
  and EHR event, none merged away, with unit and dates but no stay, patient or practitioner),
  and long rows that carry an event without a stay next to the NHSN patient days of the units.

Nothing here imports Django; the web's export (``cmo.safety.analytics.event_table``) writes
``app__safety_event`` with :data:`EXPORT_SCHEMA`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures.core import memtable

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context
    from cmo.warehouse import Warehouse

Row = dict[str, Any]
COLUMNS = (
    "id",
    "actuality",
    "event_code",
    "event_system",
    "event_display",
    "event_text",
    "subject_id",
    "encounter_id",
    "date_ts",
    "detected_ts",
    "recorded_date_ts",
    "location_id",
    "seriousness_code",
)


@dataclass
class SafetyRows:
    adverse_events: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"adverse_events": len(self.adverse_events)}


def read(wh: Warehouse) -> SafetyRows:
    """Every AdverseEvent of the warehouse (empty when the export had none)."""
    if not wh.exists("fhir__adverse_event"):
        return SafetyRows()
    ae = wh.table("fhir__adverse_event")
    ae = ae.select(*[c for c in COLUMNS if c in ae.columns])
    if wh.exists("core__inpatient_stay"):
        stays = wh.table("core__inpatient_stay").select("stay_id", "department_id")
        ae = ae.left_join(stays, ae.encounter_id == stays.stay_id).drop("stay_id")
    return SafetyRows(ae.order_by("id").to_pyarrow().to_pylist())


# -- the measures' input: app__safety_event ----------------------------------------------------
EVENT_TABLE = "app__safety_event"
# The de-identified export: column -> Arrow type (``cmo.safety.analytics.event_table`` writes
# it; an empty table keeps its columns and types). Codes are the directory's, which are the
# warehouse ids (site, department, ward-level unit).
EXPORT_SCHEMA = {
    "event_id": "int64",
    "source": "string",  # report, api, ehr, review (cmo.safety.models.Source)
    "event_type": "string",  # AHRQ Common Formats Hospital v2.0 category
    "category": "string",  # incident, near_miss, unsafe
    "harm": "string",  # AHRQ Harm Scale v1.2: death, severe, moderate, mild, none, unknown
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
_IBIS_TYPES = {"int64": "int64", "string": "string", "date32": "date", "bool_": "boolean"}
EVENT_SCHEMA = {name: _IBIS_TYPES[kind] for name, kind in EXPORT_SCHEMA.items()}
# AHRQ Common Formats Harm Scale v1.2: the levels that are harm (physical or psychological
# injury), from mild up; "no harm" and "unknown" are not.
HARM_LEVELS = ("death", "severe", "moderate", "mild")
NEAR_MISS = "near_miss"
# Reports by staff (the form or an EHR reporting button through the API): the safety-culture
# ratios count these, not the EHR's coded AdverseEvents or issues peer review hands over.
STAFF_SOURCES = ("report", "api")
PER = 1000.0  # events per 1,000 patient days


def events(ctx: Context) -> ir.Table | None:
    """The events of ``app__safety_event`` (typed, :data:`EVENT_SCHEMA`), or None with a note
    in the build's inputs (``ctx.extra["notes"]``) when the warehouse has no such table: then
    the safety measures give no rows rather than a rate of 0 that only says the app was never
    synced. A synced app without events is a rate of 0 (with a note): no reporting at all is
    itself the safety-culture finding."""
    key = "safety:events"
    if key not in ctx.extra:
        ctx.extra[key] = _events(ctx)
    table: ir.Table | None = ctx.extra[key]
    return table


def _events(ctx: Context) -> ir.Table | None:
    why = None
    if not ctx.wh.exists(EVENT_TABLE):
        why = f"the warehouse has no {EVENT_TABLE} table (the app-data sync writes it)"
    else:
        t = ctx.wh.table(EVENT_TABLE)
        missing = [c for c in EVENT_SCHEMA if c not in t.columns]
        if missing:
            why = f"{EVENT_TABLE} lacks the columns {', '.join(missing)}"
    if why is not None:
        note(ctx, f"safety measures have no rows: {why}; they fill at the build after a sync")
        return None
    if int(t.count().execute()) == 0:
        note(ctx, f"safety measures: {EVENT_TABLE} has no events (rates of 0)")
    return t.select(**{c: t[c].cast(typ) for c, typ in EVENT_SCHEMA.items()})


def note(ctx: Context, text: str) -> None:
    """A note for the build's output (said once however many measures find it)."""
    notes: list[str] = ctx.extra.setdefault("notes", [])
    if text not in notes:
        notes.append(text)


def first_month(ctx: Context) -> date | None:
    """The first month with patient days: events before it have no denominator and are left
    out (so they cannot move the results' data start, which every measure's lookback uses)."""
    key = "safety:first_month"
    if key not in ctx.extra:
        from cmo.measures.library import nhsn

        value = nhsn.unit_months(ctx).month.min().execute()
        ctx.extra[key] = None if value is None or pd.isna(value) else pd.Timestamp(value).date()
    first: date | None = ctx.extra[key]
    return first


def empty(spec_id: str) -> ir.Table:
    """No long rows (no events to count), with the long columns' types."""
    frame = pd.DataFrame({"stay_id": pd.Series([], dtype="object")})
    t = memtable(frame, {"stay_id": "string"})
    return t.select(measure_id=ibis.literal(spec_id), stay_id=t.stay_id)


def in_window(ctx: Context, when: ir.DateValue) -> ir.BooleanValue:
    """An event date inside the data: from the first month with patient days to the data end."""
    first = first_month(ctx)
    lo = ibis.literal(first or ctx.data_end, "date")
    return when.notnull() & (when >= lo) & (when <= ibis.literal(ctx.data_end, "date"))


def event_rows(
    ctx: Context,
    spec_id: str,
    t: ir.Table,
    *,
    when: ir.DateValue,
    outcome: Any,
    exposure: Any = None,
    expected: Any = None,
    exclusion: Any = None,
) -> ir.Table:
    """One long row per event: no stay, patient or practitioner (the export has none), the
    event's site, department and unit, dated ``when`` (period, discharge and evidence date)."""
    null = ibis.null("string")
    reason = exclusion if exclusion is not None else null
    return t.select(
        measure_id=ibis.literal(spec_id),
        stay_id=null,
        patient_id=null,
        period_month=when.truncate("M").cast("date"),
        discharge_date=when,
        site_id=t.site_id,
        department_id=t.department_id,
        unit_id=t.unit_id,
        practitioner_id=null,
        in_population=in_window(ctx, when),
        excluded=reason.notnull(),
        exclusion_reason=reason,
        outcome=ibis.literal(outcome, "float64") if isinstance(outcome, int) else outcome,
        expected=_float(expected),
        evidence_date=when,
        exposure=_float(exposure),
    )


def _float(value: Any) -> ir.FloatingValue:
    if value is None:
        return ibis.null("float64")
    if isinstance(value, int | float):
        return ibis.literal(float(value), "float64")
    return value.cast("float64")


def day_rows(ctx: Context, spec_id: str, rates: pd.DataFrame | None = None) -> ir.Table:
    """One long row per stay x ward-level unit x month with its patient days (the NHSN
    denominator: a census at 23:59:59 each day at the unit occupied then,
    ``cmo.measures.library.nhsn.unit_months``): outcome 0, exposure = patient days. With
    ``rates`` (unit_id -> expected events per patient day) expected = days x the rate."""
    from cmo.measures.library import nhsn

    um = nhsn.unit_months(ctx)
    stays = ctx.stays.select("stay_id", "patient_id", "site_id", "department_id", "discharge_date")
    t = um.join(stays, "stay_id")
    expected: Any = None
    if rates is not None:
        rt = memtable(
            rates.rename(columns={"unit_id": "_r_unit"}), {"_r_unit": "string", "rate": "float64"}
        )
        t = t.left_join(rt, t.unit_id == rt._r_unit).drop("_r_unit")
        expected = t.patient_days.cast("float64") * t.rate.fill_null(0.0)
    null = ibis.null("string")
    return t.select(
        measure_id=ibis.literal(spec_id),
        stay_id=t.stay_id,
        patient_id=t.patient_id,
        period_month=t.month,
        discharge_date=t.discharge_date,
        site_id=t.site_id,
        department_id=t.department_id,
        unit_id=t.unit_id,
        practitioner_id=null,  # de-identified events: no practitioner level
        in_population=t.month <= ibis.literal(ctx.data_end, "date"),
        excluded=ibis.literal(False),
        exclusion_reason=null,
        outcome=ibis.literal(0.0, "float64"),
        expected=_float(expected),
        evidence_date=t.discharge_date,
        exposure=t.patient_days.cast("float64"),
    )


def rate_long(
    ctx: Context,
    spec_id: str,
    counted: Callable[[ir.Table], ir.BooleanValue] | None = None,
    rates: pd.DataFrame | None = None,
) -> ir.Table:
    """Long rows of an event rate per patient day: :func:`day_rows` and one row per event
    (outcome 1, exposure 0; ``counted`` keeps some events, e.g. the harm ones). An event without
    a stay counts at its own unit and month; a unit with patient days and no event has rate 0."""
    ev = events(ctx)
    if ev is None:
        return empty(spec_id)
    if counted is not None:
        ev = ev.filter(counted(ev))
    days = day_rows(ctx, spec_id, rates)
    expected = None if rates is None else 0.0
    rows = event_rows(
        ctx, spec_id, ev, when=ev.occurred_date, outcome=1, exposure=0.0, expected=expected
    )
    return _typed(days).union(_typed(rows))


def _typed(t: ir.Table) -> ir.Table:
    """The long columns in the contract's order and types (a Spark scratch table reads its
    dates back as timestamps; a union needs equal schemas)."""
    from cmo.measures.spec import LONG_SCHEMA

    return t.select(**{c: t[c].cast(typ) for c, typ in LONG_SCHEMA.items() if c in t.columns})


def location_rates(ctx: Context, counted: Callable[[ir.Table], ir.BooleanValue]) -> pd.DataFrame:
    """unit_id -> expected events per patient day: the pooled rate of the unit's NHSN location
    type (``nhsn.location_map``: ICU, step-down, ward, ...) over all the data, the NHSN
    internal-baseline construction (indirect standardisation) applied to safety events."""
    from cmo.measures.library import nhsn

    ev = events(ctx)
    locs = nhsn.location_map(ctx)[["unit_id", "nhsn_type"]]
    if ev is None:
        return pd.DataFrame({"unit_id": locs["unit_id"], "rate": 0.0})
    um = nhsn.unit_months(ctx)
    um = um.filter(um.month <= ibis.literal(ctx.data_end, "date"))
    days = um.group_by("unit_id").aggregate(days=um.patient_days.sum()).to_pandas()
    ev = ev.filter(counted(ev) & in_window(ctx, ev.occurred_date))
    n = ev.group_by("unit_id").aggregate(n=ev.count()).to_pandas()
    f = locs.merge(days, on="unit_id", how="left").merge(n, on="unit_id", how="left")
    f = f.fillna({"days": 0, "n": 0})
    pooled = f.groupby("nhsn_type")[["days", "n"]].sum()
    rate = (pooled["n"] / pooled["days"].where(pooled["days"] > 0)).fillna(0.0)
    return pd.DataFrame({"unit_id": f["unit_id"], "rate": f["nhsn_type"].map(rate).to_numpy()})


def finish(measure_id: str, *, median: bool = False) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The results step of a safety measure (``Measure.finish``): no practitioner rows (the
    events are de-identified; the patient days' practitioner would be meaningless), and with
    ``median`` the rate is the median (days to close)."""

    def step(frame: pd.DataFrame) -> pd.DataFrame:
        mine = frame["measure_id"] == measure_id
        out = frame[~(mine & (frame["level"] == "practitioner"))].reset_index(drop=True)
        if median:
            mine = out["measure_id"] == measure_id
            out.loc[mine, "rate"] = out.loc[mine, "median"]
        return out

    return step
