"""NHSN device-associated infections: the shared stages of CLABSI, CAUTI and the device
utilisation ratios (no ``MEASURE`` here; the measures are ``clabsi``, ``cauti``,
``nhsn_cldur``, ``nhsn_ucdur``).

Method: CDC National Healthcare Safety Network, Patient Safety Component Manual (January 2024),
chapter 2 (identifying HAIs: date of event, device-associated infection, location of
attribution), chapter 4 (CLABSI) and chapter 7 (CAUTI); *The NHSN Standardized Infection Ratio
(SIR): A Guide to the SIR* (2015 and 2022 baselines).

- **Patient days** (NHSN denominator form, "count at the same time each day"): a stay counts on
  each calendar day whose census time (23:59:59) falls inside it, at the ward-level unit it
  occupies then (Encounter.location periods; a stay without them at its discharge unit). So a
  stay admitted and discharged on the same day has no patient day.
- **Device days**: of those patient days, the ones on which a device of the kind was in place
  at the census time: DeviceUseStatement.timingPeriod (no end: until discharge) of a Device
  whose type is a central venous catheter (SNOMED CT 52124006) or a urinary catheter (SNOMED CT
  20568009; NHSN counts indwelling catheters only), matched to the stay by patient and time.
- **Events**: a CLABSI (ICD-10-CM T80.211A, bloodstream infection due to central venous
  catheter) or CAUTI (T83.511A, urinary tract infection due to indwelling urethral catheter)
  diagnosis not present on admission (POA N or U; without POA, an event date on or after day 3
  of the stay, NHSN's healthcare-associated rule), dated by its Condition's onset (else recorded
  date); or a positive blood (LOINC 600-7) or urine (630-4) culture Observation (interpretation
  POS/A/AA or a positive value code) on or after day 3 of the stay. The event is
  device-associated when a device of the kind had been in place for more than 2 consecutive
  calendar days on the date of event (device day 3 or later, insertion day = day 1) and was in
  place on that date or removed the day before. One event per stay and kind (the first); it is
  attributed to the unit the patient occupied at the event (NHSN location of attribution).
- **Predicted events** = device days x the baseline's rate per device day for the location
  (NHSN negative-binomial models: log rate = intercept + the location's and facility's
  parameters), see :func:`predicted_rates`; SIR = observed / predicted with the mid-P exact
  interval and no SIR when predicted < 1 (``cmo.measures.results``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from cmo.errors import CmoError
from cmo.measures.core import memtable, norm_code, source
from cmo.measures.library.common import skeleton

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context, Measure

DAY_SECONDS = 24 * 3600
CENSUS_SECONDS = DAY_SECONDS - 1  # 23:59:59: the daily count
# Device types (Device.type, SNOMED CT) -> device kind.
DEVICE_KINDS = {"52124006": "cl", "20568009": "uc"}


@dataclass(frozen=True)
class Event:
    """A device-associated infection: its device kind, ICD-10-CM codes (undotted) and the
    LOINC codes of the culture that can identify it."""

    measure_id: str
    device: str
    codes: tuple[str, ...]
    cultures: tuple[str, ...]


EVENTS = {
    "CLABSI": Event("CLABSI", "cl", ("T80211A",), ("600-7",)),
    "CAUTI": Event("CAUTI", "uc", ("T83511A",), ("630-4",)),
}
NOT_POA = ("n", "u")  # CMS POA indicators: N = not present, U = documentation insufficient
POSITIVE_INTERPRETATION = ("POS", "A", "AA", "H", "HH")
POSITIVE_VALUE = ("10828004",)  # SNOMED CT Positive
HAI_DAY = 3  # NHSN: an event on hospital day 3 or later is healthcare-associated
DEVICE_DAY = 3  # NHSN: device in place > 2 consecutive calendar days on the date of event

# Our unit types and the NHSN location they map to by default; the user edits the map file.
NHSN_TYPES = ("CC", "STEP", "WARD", "ED", "OR", "NONACUTE")
IN_PLAN_TYPES = ("CC", "STEP", "WARD")
MAP_FILE = "nhsn_locations.csv"
MAP_COLUMNS = ["unit_id", "unit_name", "nhsn_type", "cdc_code", "in_plan"]

_EXTRA = {
    "fhir__device": {"id": "string", "type_code": "string", "patient_id": "string"},
    "fhir__device_use": {
        "id": "string",
        "status": "string",
        "subject_id": "string",
        "device_id": "string",
        "timing_period_start_ts": "timestamp",
        "timing_period_end_ts": "timestamp",
        "timing_date_time_ts": "timestamp",
    },
    "fhir__condition_onset": {
        "code": "string",
        "encounter_id": "string",
        "onset_date_time_ts": "timestamp",
        "recorded_date_ts": "timestamp",
    },
    "fhir__observation": {
        "status": "string",
        "code": "string",
        "subject_id": "string",
        "encounter_id": "string",
        "effective_date_time_ts": "timestamp",
        "effective_period_start_ts": "timestamp",
        "interpretation_code": "string",
        "value_code": "string",
    },
    "fhir__location_type": {"id": "string", "name": "string", "type_code": "string"},
}


def _source(ctx: Context, name: str) -> ir.Table:
    """A fhir table narrowed to the columns read here (an empty one when never ingested)."""
    table = {"fhir__condition_onset": "fhir__condition", "fhir__location_type": "fhir__location"}
    schema = _EXTRA[name]
    real = table.get(name, name)
    if not ctx.wh.exists(real):
        frame = pd.DataFrame({c: pd.Series([], dtype="object") for c in schema})
        return memtable(frame, schema)
    t = ctx.wh.table(real)
    return t.select(
        **{c: (t[c].cast(typ) if c in t.columns else ibis.null(typ)) for c, typ in schema.items()}
    )


# -- locations ---------------------------------------------------------------------------------
def default_location(unit_id: str, name: str | None, type_code: str | None) -> dict[str, Any]:
    """The default NHSN mapping of a ward-level unit, from its HL7 v3 RoleCode type and name:
    ICU -> medical-surgical critical care (IN:ACUTE:CC:MS), ED/OR -> not an inpatient bedded
    location, telemetry/step-down -> step-down (IN:ACUTE:STEP), behavioural health and
    rehabilitation -> non-acute (reported to NHSN under their own components), else a ward
    (medical IN:ACUTE:WARD:M, surgical IN:ACUTE:WARD:S, else medical-surgical
    IN:ACUTE:WARD:MS)."""
    label = (name or "").lower()
    code = (type_code or "").upper()
    words = label.replace("-", " ").split()
    if code in ("ICU", "ICU1", "PEDICU", "CCU") or "intensive care" in label or "icu" in words:
        nhsn, cdc = "CC", "IN:ACUTE:CC:MS"
    elif code in ("ER", "ETU") or "emergency" in label:
        nhsn, cdc = "ED", "OUT:ACUTE:ED"
    elif code in ("OR",) or "operating" in label:
        nhsn, cdc = "OR", "OUT:ACUTE:OR"
    elif "telemetry" in label or "step" in label:
        nhsn, cdc = "STEP", "IN:ACUTE:STEP"
    elif code in ("PSYCHF", "RH", "PSI") or any(w in label for w in ("behavio", "psych", "rehab")):
        nhsn, cdc = "NONACUTE", "IN:NONACUTE"
    elif "surgical" in label and "medical" not in label:
        nhsn, cdc = "WARD", "IN:ACUTE:WARD:S"
    elif "medical" in label and "surgical" not in label:
        nhsn, cdc = "WARD", "IN:ACUTE:WARD:M"
    else:
        nhsn, cdc = "WARD", "IN:ACUTE:WARD:MS"
    return {
        "unit_id": unit_id,
        "unit_name": name or unit_id,
        "nhsn_type": nhsn,
        "cdc_code": cdc,
        "in_plan": nhsn in IN_PLAN_TYPES,
    }


def map_path() -> Path:
    from cmo.config import settings

    return settings().data_dir / MAP_FILE


def location_map(ctx: Context) -> pd.DataFrame:
    """The NHSN location of every ward-level unit: ``<data dir>/nhsn_locations.csv``, which the
    first build writes with :func:`default_location` defaults and later builds read (units new
    to the warehouse are appended with their defaults, so the file lists every unit). The user
    edits ``nhsn_type`` (CC, STEP, WARD, ED, OR, NONACUTE), ``cdc_code`` and ``in_plan``."""
    key = "nhsn:location_map"
    if key in ctx.extra:
        frame: pd.DataFrame = ctx.extra[key]
        return frame
    units = _units(ctx)
    path = map_path()
    known = read_map(path) if path.exists() else pd.DataFrame(columns=MAP_COLUMNS)
    new = units[~units["unit_id"].isin(known["unit_id"])]
    rows = [default_location(u, n, t) for u, n, t in new.itertuples(index=False)]
    if rows:
        known = pd.concat([known, pd.DataFrame(rows, columns=MAP_COLUMNS)], ignore_index=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        known.to_csv(path, index=False)
    ctx.extra[key] = known
    return known


def read_map(path: Path) -> pd.DataFrame:
    """Read and check the user's location map (a user error is one line, no traceback)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CmoError(f"cannot read the NHSN location map {path}: {exc}") from None
    missing = [c for c in MAP_COLUMNS if c not in frame.columns]
    if missing:
        raise CmoError(f"the NHSN location map {path} lacks the columns {', '.join(missing)}")
    bad = frame[~frame["nhsn_type"].isin(NHSN_TYPES)]
    if len(bad):
        raise CmoError(
            f"the NHSN location map {path}: unit {bad['unit_id'].iloc[0]} has nhsn_type "
            f"{bad['nhsn_type'].iloc[0]!r}; use one of {', '.join(NHSN_TYPES)}"
        )
    flags = frame["in_plan"].str.strip().str.lower()
    if not flags.isin(("true", "false", "1", "0", "yes", "no")).all():
        raise CmoError(f"the NHSN location map {path}: in_plan must be true or false")
    frame = frame[MAP_COLUMNS].copy()
    frame["in_plan"] = flags.isin(("true", "1", "yes"))
    return frame


def _units(ctx: Context) -> pd.DataFrame:
    """Ward-level units (physicalType ``wa``) and the stays' own units, with name and type."""
    loc = _source(ctx, "fhir__location_type")
    from cmo.measures.core import location_wards

    wards = set(location_wards(ctx.wh)["ward_id"].dropna())
    used = set(ctx.stays.select("unit_id").distinct().to_pandas()["unit_id"].dropna())
    frame = loc.to_pandas()
    frame = frame[frame["id"].isin(wards | used)]
    return frame[["id", "name", "type_code"]].rename(columns={"id": "unit_id"})


def _map_table(ctx: Context) -> ir.Table:
    m = location_map(ctx)[["unit_id", "nhsn_type", "in_plan"]]
    return memtable(
        m.rename(columns={"unit_id": "_m_unit"}),
        {"_m_unit": "string", "nhsn_type": "string", "in_plan": "boolean"},
    )


# -- patient days and device days --------------------------------------------------------------
def unit_periods(ctx: Context) -> ir.Table:
    """(stay_id, unit_id, start, end): the ward-level unit periods of each stay; a stay without
    Encounter.location at its discharge unit for the whole stay (``core__nhsn_period``)."""
    return ctx.shared("nhsn_period", lambda: _unit_periods(ctx))


def _unit_periods(ctx: Context) -> ir.Table:
    from cmo.measures.core import _wards

    s = ctx.stays.select("stay_id", "unit_id", "admit_ts", "discharge_ts")
    eloc = source(ctx.wh, "fhir__encounter_location")
    t = eloc.join(s, eloc.encounter_id == s.stay_id).left_join(_wards(ctx.wh), "location_id")
    moves = t.select(
        "stay_id",
        unit_id=ibis.coalesce(t.ward_id, t.location_id),
        start=ibis.coalesce(t.period_start_ts, t.admit_ts),
        end=ibis.coalesce(t.period_end_ts, t.discharge_ts),
    ).filter(ibis._.unit_id.notnull())
    rest = s.anti_join(moves.select("stay_id").distinct(), "stay_id")
    whole = rest.select("stay_id", "unit_id", start=rest.admit_ts, end=rest.discharge_ts)
    return moves.union(whole)


def devices(ctx: Context) -> ir.Table:
    """(stay_id, device, start, end, insert_date, remove_date): device periods
    (DeviceUseStatement x Device.type) matched to the stays of the patient they overlap, clipped
    to the stay (``core__nhsn_device``)."""
    return ctx.shared("nhsn_device", lambda: _devices(ctx))


def _devices(ctx: Context) -> ir.Table:
    du = _source(ctx, "fhir__device_use")
    dev = _source(ctx, "fhir__device")
    kinds = memtable(
        pd.DataFrame({"type_code": list(DEVICE_KINDS), "device": list(DEVICE_KINDS.values())}),
        {"type_code": "string", "device": "string"},
    )
    d = dev.join(kinds, "type_code").select(_dev=dev.id, device=ibis._.device)
    du = du.filter(du.status.isnull() | (du.status != "entered-in-error"))
    u = du.join(d, du.device_id == d._dev).select(
        patient_id=du.subject_id,
        device=d.device,
        d_start=ibis.coalesce(du.timing_period_start_ts, du.timing_date_time_ts),
        d_end=du.timing_period_end_ts,
    )
    s = ctx.stays.select("stay_id", "patient_id", "admit_ts", "discharge_ts")
    j = u.join(s, "patient_id")
    end = ibis.coalesce(j.d_end, j.discharge_ts)
    j = j.filter(j.d_start.notnull() & (j.d_start < j.discharge_ts) & (end > j.admit_ts))
    return j.select(
        "stay_id",
        "device",
        start=ibis.greatest(j.d_start, j.admit_ts),
        end=ibis.least(end, j.discharge_ts),
        insert_date=j.d_start.date(),
        remove_date=end.date(),
    )


def _census_days(p: ir.Table) -> ir.Table:
    """Each (stay, unit) period exploded into its census days (23:59:59 inside the period)."""
    first = p.start.date()
    n = p.end.date().delta(first, unit="day")
    t = p.filter(p.end > p.start).mutate(_off=ibis.range(0, n + 1).unnest())
    t = t.mutate(day=first + t._off.as_interval("D"))
    census = t.day.cast("timestamp") + ibis.interval(seconds=CENSUS_SECONDS)
    return t.filter((census >= t.start) & (census < t.end)).mutate(census=census).drop("_off")


def _one_unit_per_day(p: ir.Table) -> ir.Table:
    """The census days of the unit periods ``p``, one unit per stay and day: the latest-starting
    period covering the day.

    Only the days of stays with several periods go through the window: a stay's only period
    is its unit on each of its days. Nearly every stay has one period, and ranking all the
    census days per (stay, day) was most of ``core__nhsn_unit_month``'s time at 1M stays.
    """
    n = p.group_by("stay_id").aggregate(_n=p.count())
    p = p.join(n, "stay_id")
    one = _census_days(p.filter(p._n == 1).drop("_n"))
    several = _census_days(p.filter(p._n > 1).drop("_n"))
    several = several.mutate(
        _rn=ibis.row_number().over(group_by=["stay_id", "day"], order_by=ibis.desc("start"))
    )
    several = several.filter(several._rn == 0).drop("_rn")
    return one.union(several, distinct=False)


def unit_months(ctx: Context) -> ir.Table:
    """Per stay x unit x month: patient days and central-line / urinary-catheter days
    (``core__nhsn_unit_month``, built once per build and read by the four NHSN measures)."""

    def build() -> ir.Table:
        days = _one_unit_per_day(unit_periods(ctx))
        dv = devices(ctx)
        on = days.select("stay_id", "day", "census").join(dv, "stay_id")
        on = on.filter((on.census >= on.start) & (on.census < on.end))
        flags = on.group_by(["stay_id", "day"]).aggregate(
            _cl=(on.device == "cl").any(), _uc=(on.device == "uc").any()
        )
        j = days.left_join(flags, ["stay_id", "day"])
        j = j.select(
            stay_id=j.stay_id,
            unit_id=j.unit_id,
            month=j.day.truncate("M").cast("date"),
            cl=j._cl.fill_null(False).cast("int64"),
            uc=j._uc.fill_null(False).cast("int64"),
        )
        return j.group_by(["stay_id", "unit_id", "month"]).aggregate(
            patient_days=j.count(), cl_days=j.cl.sum(), uc_days=j.uc.sum()
        )

    return ctx.shared("nhsn_unit_month", build)


# -- events ------------------------------------------------------------------------------------
def events(ctx: Context, event: Event) -> ir.Table:
    """(stay_id, unit_id, month, events = 1, event_ts): the first device-associated event of
    each stay (module docstring), at its location of attribution (``core__nhsn_event_<id>``)."""
    return ctx.shared(f"nhsn_event_{event.measure_id.lower()}", lambda: _events(ctx, event))


def _events(ctx: Context, event: Event) -> ir.Table:
    s = ctx.stays.select("stay_id", "patient_id", "admit_ts", "discharge_ts", "admit_date")
    # Coded events: the diagnosis, not present on admission, dated by its Condition.
    dx = ctx.wh.table("core__stay_diagnosis")
    dx = dx.filter(dx.code.isin(event.codes)).select("stay_id", "code", "poa")
    cond = _source(ctx, "fhir__condition_onset")
    cond = cond.select(
        _enc=cond.encounter_id,
        _code=norm_code(cond.code),
        when=ibis.coalesce(cond.onset_date_time_ts, cond.recorded_date_ts),
    )
    dated = (
        dx.left_join(cond, (dx.stay_id == cond._enc) & (dx.code == cond._code))
        .group_by(["stay_id", "poa"])
        .aggregate(when=ibis._.when.min())
    )
    dated = dated.join(s, "stay_id")
    day = dated.when.date().delta(dated.admit_date, unit="day") + 1
    coded = dated.filter(
        dated.when.notnull() & (dated.poa.isin(NOT_POA) | (dated.poa.isnull() & (day >= HAI_DAY)))
    ).select("stay_id", "when")
    # Positive cultures on or after hospital day 3.
    obs = _source(ctx, "fhir__observation")
    positive = obs.interpretation_code.upper().isin(POSITIVE_INTERPRETATION) | obs.value_code.isin(
        POSITIVE_VALUE
    )
    obs = obs.filter(
        obs.code.isin(event.cultures)
        & positive.fill_null(False)
        & (obs.status.isnull() | obs.status.isin(("final", "amended", "corrected", "preliminary")))
    ).select(
        patient_id=obs.subject_id,
        when=ibis.coalesce(obs.effective_date_time_ts, obs.effective_period_start_ts),
    )
    oj = obs.join(s, "patient_id")
    oday = oj.when.date().delta(oj.admit_date, unit="day") + 1
    cultured = oj.filter(
        (oj.when >= oj.admit_ts) & (oj.when < oj.discharge_ts) & (oday >= HAI_DAY)
    ).select("stay_id", "when")
    candidates = coded.union(cultured)
    # Device-associated: the device on device day 3 or later on the date of event, in place
    # that day or removed the day before.
    dv = devices(ctx)
    dv = dv.filter(dv.device == event.device).select(
        "stay_id", "insert_date", "remove_date", _dstart=dv.start
    )
    c = candidates.join(dv, "stay_id")
    edate = c.when.date()
    c = c.filter(
        (edate.delta(c.insert_date, unit="day") + 1 >= DEVICE_DAY)
        & (c.remove_date.delta(edate, unit="day") >= -1)
    )
    first = c.group_by("stay_id").aggregate(event_ts=c.when.min())
    first = first.join(s.select("stay_id", "admit_ts"), "stay_id")
    # Location of attribution (NHSN transfer rule): the unit on the date of event, unless the
    # patient moved there on that day or the day before, then the unit they came from. That is
    # the unit occupied at 00:00 of the day before the event (or the first one after admission).
    p = unit_periods(ctx)
    j = first.join(p, "stay_id")
    at = (j.event_ts.date() - ibis.interval(days=1)).cast("timestamp")
    j = j.filter((j.start <= at) | (j.start <= j.admit_ts)).mutate(
        _rn=ibis.row_number().over(group_by="stay_id", order_by=ibis.desc("start"))
    )
    j = j.filter(j._rn == 0)
    return j.select(
        "stay_id",
        "unit_id",
        month=j.event_ts.date().truncate("M").cast("date"),
        events=ibis.literal(1, "int64"),
        event_ts=j.event_ts,
    )


# -- predicted events --------------------------------------------------------------------------
def models_path() -> Path:
    from cmo.config import settings

    return settings().data_dir / "nhsn_sir_models.csv"


def sir_models() -> pd.DataFrame:
    """The SIR model parameters: ``<data dir>/nhsn_sir_models.csv`` when the user put one there
    (e.g. with the ACH tables of their baseline), else the shipped file."""
    path = models_path()
    if path.exists():
        return pd.read_csv(path)
    shipped = resources.files("cmo.measures.library") / "data" / "nhsn_sir_models.csv"
    with resources.as_file(shipped) as p:
        return pd.read_csv(p)


FACILITY_FILE = "nhsn_facility.csv"
MED_SCHOOL = ("major", "graduate", "undergraduate", "none")


def facility_path() -> Path:
    from cmo.config import settings

    return settings().data_dir / FACILITY_FILE


def read_facility(path: Path) -> dict[str, Any] | None:
    """The facility factors of NHSN's Annual Hospital Survey that the warehouse does not hold:
    ``<data dir>/nhsn_facility.csv``, one row ``total_beds,icu_beds,medical_school``
    (major/graduate/undergraduate/none), written by the user; None without the file."""
    if not path.exists():
        return None
    rows = pd.read_csv(path, dtype=str).to_dict("records")
    try:
        (row,) = rows
        beds, icu = int(row["total_beds"]), int(row["icu_beds"])
        school = str(row["medical_school"]).strip().lower()
    except (KeyError, ValueError, TypeError) as exc:
        raise CmoError(
            f"{path}: one row of total_beds,icu_beds,medical_school is needed ({exc})"
        ) from None
    if school not in MED_SCHOOL or beds <= 0 or not 0 <= icu <= beds:
        raise CmoError(
            f"{path}: medical_school must be one of {', '.join(MED_SCHOOL)} and "
            f"0 <= icu_beds <= total_beds > 0"
        )
    return {"total_beds": beds, "icu_share": icu / beds, "medical_school": school}


def _within(value: float, arg: str, digits: int) -> bool:
    """``lo:hi`` bounds as NHSN prints them, inclusive, on the value rounded as printed (an
    empty bound is open): ``5.7:6.5`` holds ALOS 5.66-6.54."""
    lo, _, hi = arg.partition(":")
    v = round(value, digits)
    return (not lo or v >= float(lo)) and (not hi or v <= float(hi))


def _log_rate(
    params: pd.DataFrame, loc: dict[Any, Any], alos: float, facility: dict[str, Any] | None
) -> float | None:
    """A published model's log rate per device day for one location, or None when the model
    has a parameter this module cannot evaluate: an unknown name, a facility factor without
    ``nhsn_facility.csv``, or location groups (``code_in``) none of which holds the location."""
    total, groups, grouped = 0.0, False, False
    for key, beta in zip(params["parameter"], params["estimate"], strict=True):
        name, _, arg = str(key).partition(":")
        if name in ("beds_in", "icu_share_in", "med_school") and facility is None:
            return None
        if name == "intercept":
            hit = True
        elif name == "cc_select":
            hit = loc["cdc_code"] in ("IN:ACUTE:CC:C", "IN:ACUTE:CC:M", "IN:ACUTE:CC:MS")
        elif name == "non_cc_alos_ge":
            hit = loc["nhsn_type"] != "CC" and alos >= float(arg)
        elif name == "type":
            hit = loc["nhsn_type"] == arg
        elif name == "code":
            hit = loc["cdc_code"] == arg
        elif name == "code_in":  # a location group of the model (the referent has estimate 0)
            groups = True
            hit = loc["cdc_code"] in arg.split("|")
            grouped = grouped or hit
        elif name == "alos_in":
            hit = _within(alos, arg, 1)
        elif name == "beds_in":
            hit = _within(facility["total_beds"], arg, 0)  # type: ignore[index]
        elif name == "icu_share_in":
            hit = _within(facility["icu_share"], arg, 3)  # type: ignore[index]
        elif name == "med_school":
            hit = facility["medical_school"] == arg  # type: ignore[index]
        else:
            return None
        total += float(beta) if hit else 0.0
    return None if groups and not grouped else total


def predicted_rates(ctx: Context, event: Event) -> tuple[pd.DataFrame, str]:
    """(unit_id -> ``rate`` = predicted events per device day, the baseline used).

    ``CMO_NHSN_BASELINE`` names a baseline of :func:`sir_models` (``2022-ach``, ``2022-cah``):
    its complete model for the event gives each in-plan location exp(intercept + its
    parameters). Without one (the default ``internal``, a baseline without a model for this
    event, or a model some in-plan location or the facility file cannot feed) the baseline is
    the system's own: the pooled rate per device day of each NHSN location type over all
    complete data (indirect standardisation, as the NHSN national baseline but on our data)."""
    from cmo.config import settings

    locs = location_map(ctx)
    baseline = settings().nhsn_baseline
    params = sir_models()
    params = params[
        (params["baseline"].astype(str) == baseline) & (params["event"] == event.measure_id)
    ]
    if len(params):
        alos = _alos(ctx)
        facility = read_facility(facility_path())
        rates: list[float] = []
        for loc in locs.to_dict("records"):
            if not loc["in_plan"]:  # not in the SIR: no NHSN model covers it
                rates.append(math.nan)
                continue
            lr = _log_rate(params, loc, alos, facility)
            if lr is None:
                rates = []
                break
            rates.append(math.exp(lr))
        if rates:
            return pd.DataFrame({"unit_id": locs["unit_id"], "rate": rates}), baseline
    return _internal_rates(ctx, event, locs), "internal"


def _alos(ctx: Context) -> float:
    """Average length of stay (patient days / admissions), the NHSN facility factor."""
    s = ctx.stays.filter(ctx.stays.acute)
    row = s.aggregate(days=s.los_days.sum(), n=s.count()).to_pandas().iloc[0]
    return float(row["days"] / row["n"]) if row["n"] else 0.0


def _internal_rates(ctx: Context, event: Event, locs: pd.DataFrame) -> pd.DataFrame:
    um = unit_months(ctx)
    col = f"{event.device}_days"
    ev = events(ctx, event)
    by_unit_days = um.group_by("unit_id").aggregate(days=um[col].sum()).to_pandas()
    by_unit_events = ev.group_by("unit_id").aggregate(n=ev.count()).to_pandas()
    f = locs[["unit_id", "nhsn_type"]].merge(by_unit_days, on="unit_id", how="left")
    f = f.merge(by_unit_events, on="unit_id", how="left").fillna({"days": 0, "n": 0})
    pooled = f.groupby("nhsn_type")[["days", "n"]].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (pooled["n"] / pooled["days"]).where(pooled["days"] > 0)
    out = pd.DataFrame({"unit_id": f["unit_id"], "rate": f["nhsn_type"].map(rate).to_numpy()})
    return out


# -- long rows -------------------------------------------------------------------------------
def infection_long(ctx: Context, event: Event, spec_id: str) -> ir.Table:
    """Long rows of an SIR measure: one per stay x unit x month with device days or an event;
    outcome = events, exposure = device days, expected = predicted events."""
    um = unit_months(ctx)
    col = f"{event.device}_days"
    # Explicit types: a scratch table read back from Spark may narrow the literals to int32.
    base = um.filter(um[col] > 0).select(
        "stay_id",
        "unit_id",
        "month",
        days=um[col].cast("int64"),
        events=ibis.literal(0, "int64"),
    )
    ev = events(ctx, event)
    ev = ev.select(
        "stay_id",
        "unit_id",
        "month",
        days=ibis.literal(0, "int64"),
        events=ev.events.cast("int64"),
    )
    rows = (
        base.union(ev)
        .group_by(["stay_id", "unit_id", "month"])
        .aggregate(days=ibis._.days.sum(), events=ibis._.events.sum())
    )
    rates, _ = predicted_rates(ctx, event)
    rt = memtable(
        rates.rename(columns={"unit_id": "_r_unit"}), {"_r_unit": "string", "rate": "float64"}
    )
    rows = rows.left_join(rt, rows.unit_id == rt._r_unit).drop("_r_unit")
    return _located(ctx, spec_id, rows, rows.events, rows.days, rows.days * rows.rate)


def utilisation_long(ctx: Context, device: str, spec_id: str) -> ir.Table:
    """Long rows of a device utilisation ratio: one per stay x unit x month with patient days;
    outcome = device days, exposure = patient days."""
    um = unit_months(ctx)
    rows = um.select("stay_id", "unit_id", "month", days=um.patient_days, dev=um[f"{device}_days"])
    return _located(ctx, spec_id, rows, rows.dev, rows.days, None)


def _located(
    ctx: Context, spec_id: str, rows: ir.Table, outcome: Any, exposure: Any, expected: Any
) -> ir.Table:
    rows = rows.mutate(
        _outcome=outcome.cast("float64"),
        _exposure=exposure.cast("float64"),
        _expected=(expected if expected is not None else ibis.null("float64")).cast("float64"),
    )
    m = _map_table(ctx)
    stays = ctx.stays.drop("unit_id", "secondary_dx", "procedures")
    t = rows.join(stays, "stay_id").left_join(m, rows.unit_id == m._m_unit).drop("_m_unit")
    in_plan = t.in_plan.fill_null(False)
    return skeleton(
        spec_id,
        t,
        period_month=t.month,
        unit_id=t.unit_id,
        in_population=t.month <= ibis.literal(ctx.data_end, "date"),
        exclusion_reason=ibis.cases((~in_plan, "location_not_in_plan"), else_=ibis.null("string")),
        outcome=t._outcome,
        exposure=t._exposure,
        expected=ibis.cases((in_plan, t._expected), else_=ibis.null("float64")),
        evidence_date=t.discharge_date,
    )


# -- signals -----------------------------------------------------------------------------------
SIR_Q = 0.05  # Benjamini-Hochberg over the units x quarters of one measure


def sir_signals(
    results: pd.DataFrame, measures: dict[str, Measure], data_end: date
) -> pd.DataFrame:
    """Quarterly SIR signals of each NHSN location (``kind`` ``sir``): the mid-P test of
    SIR = 1 (NHSN: only where at least 1 event was predicted), Benjamini-Hochberg over the
    complete quarters x units of the measure at q < 0.05 so that dozens of unit-quarters do not
    raise chance signals; worse and better both reported."""
    from cmo.measures.results import SIGNAL_COLUMNS, complete_periods
    from cmo.stats.intervals import sir_midp
    from cmo.stats.multiplicity import bh_qvalues

    ids = [mid for mid, m in measures.items() if m.spec.kind == "rate" and m.signals and m.located]
    q = results[
        results["measure_id"].isin(ids)
        & (results["period_type"] == "quarter")
        & (results["level"] == "unit")
        & (pd.to_numeric(results["expected"], errors="coerce").fillna(0) >= 1)
    ]
    q = complete_periods(q, data_end)
    rows: list[dict[str, Any]] = []
    for mid, g in q.groupby("measure_id", sort=True):
        o = g["numerator"].fillna(0).round().to_numpy(float)
        e = g["expected"].to_numpy(float)
        p = np.asarray(sir_midp(o, e).p_value, float)
        qv = bh_qvalues(p)
        for r, pv, qq in zip(g.to_dict("records"), p, qv, strict=True):
            if not qq < SIR_Q:
                continue
            worse = r["numerator"] > r["expected"]
            rows.append(
                {
                    "measure_id": mid,
                    "level": "unit",
                    "unit_id": r["unit_id"],
                    "unit_name": r["unit_name"],
                    "site_id": r["site_id"],
                    "period_start": r["period_start"],
                    "kind": "sir",
                    "direction": "worse" if worse else "better",
                    "detail": f"SIR {r['numerator'] / r['expected']:.2f} (O {r['numerator']:.0f}, "
                    f"P {r['expected']:.2f}; mid-P p = {pv:.2g}, BH q = {qq:.2g}) in the quarter",
                    "q_value": float(qq),
                    "window": "quarter",
                }
            )
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
