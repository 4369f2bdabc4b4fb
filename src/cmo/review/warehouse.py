"""The review domain's reads of the analytics warehouse (read-only), as doors over the serving
snapshot (``cmo.web.warehouse.door``: cached per build, never the live file, never a write):

- :func:`case_record`: a peer-review case assembled from a stay: the stay, its timeline
  (admission, unit transfers, procedures, discharge), diagnoses with present-on-admission,
  the measures it counts in with their expected risk;
- :func:`deaths`: in-hospital deaths of a period (the mortality-review referrals);
- :func:`data_end`: the first day after the warehouse's data (for the last complete cycle).

Request values reach the engine only as Ibis literals. Callers access-log what they show.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cmo.quality.interface import NoResults, funnel, results, signals
from cmo.web.warehouse import door

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse


def _records(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    for row in rows:
        for k, v in row.items():
            if isinstance(v, float) and math.isnan(v):
                row[k] = None
    return rows


STAY_COLUMNS = (
    "stay_id", "patient_id", "site_id", "department_id", "unit_id", "attending_id",
    "surgeon_id", "admit_ts", "discharge_ts", "admit_date", "discharge_date", "los_days",
    "priority", "admit_source", "discharge_disposition", "age", "sex", "principal_dx",
    "died_in_hospital", "death_date",
)  # fmt: skip


def _case_record(wh: Warehouse, stay_id: str) -> dict[str, Any] | None:
    """Everything the reviewer needs about one stay, or None when the build has no such stay."""
    import ibis

    from cmo.measures.api import dx_displays

    if not wh.exists("core__inpatient_stay"):
        return None
    s = wh.table("core__inpatient_stay")
    cols = [c for c in STAY_COLUMNS if c in s.columns]
    stays = _records(s.filter(s.stay_id == stay_id).select(*cols).limit(1))
    if not stays:
        return None
    stay = stays[0]
    middle: list[dict[str, Any]] = []
    if wh.exists("core__stay_unit"):
        u = wh.table("core__stay_unit")
        for r in _records(u.filter(u.stay_id == stay_id).order_by("first_ts")):
            middle.append({"at": r["first_ts"], "what": f"In unit {r['unit_id']}"})
    if wh.exists("fhir__procedure"):
        p = wh.table("fhir__procedure")
        starts = [
            c for c in ("performed_date_time_ts", "performed_period_start_ts") if c in p.columns
        ]
        at = ibis.coalesce(*[p[c] for c in starts]) if starts else ibis.null("timestamp")
        q = p.filter(p.encounter_id == stay_id).select(
            code=p.code, code_display=p.code_display, at=at
        )
        for r in _records(q):
            middle.append({"at": r["at"], "what": f"Procedure: {r['code_display'] or r['code']}"})
    middle.sort(key=lambda e: _sortable(e["at"]))
    # Admission first and discharge (or death) last, whatever the sources' clocks say.
    events = [
        {"at": stay.get("admit_ts") or stay.get("admit_date"), "what": "Admission"},
        *middle,
        {
            "at": stay.get("discharge_ts") or stay.get("discharge_date"),
            "what": "Death in hospital" if stay.get("died_in_hospital") else "Discharge",
        },
    ]
    diagnoses: list[dict[str, Any]] = []
    if wh.exists("core__stay_diagnosis"):
        d = wh.table("core__stay_diagnosis")
        diagnoses = _records(
            d.filter(d.stay_id == stay_id)
            .select("code", "is_principal", "poa")
            .order_by([d.is_principal.desc(), "code"])
        )
    names = dx_displays(wh, {str(r["code"]) for r in diagnoses})
    for r in diagnoses:
        r["display"] = names.get(str(r["code"]))
    measures: list[dict[str, Any]] = []
    if wh.exists("quality__measure_long"):
        t = wh.table("quality__measure_long")
        rows = _records(
            t.filter((t.stay_id == stay_id) & t.in_population)
            .select("measure_id", "excluded", "exclusion_reason", "outcome", "expected")
            .order_by("measure_id")
        )
        titles = {}
        if wh.exists("quality__measure"):
            q = wh.table("quality__measure")
            titles = {
                str(r["measure_id"]): r["title"] for r in _records(q.select("measure_id", "title"))
            }
        for r in rows:
            r["title"] = titles.get(str(r["measure_id"]), r["measure_id"])
        measures = rows
    return {"stay": stay, "timeline": events, "diagnoses": diagnoses, "measures": measures}


def _sortable(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.max


def _deaths(wh: Warehouse, start: date, end: date) -> list[dict[str, Any]]:
    """In-hospital deaths discharged in [start, end): stay, patient, attending, department."""
    import ibis

    if not wh.exists("core__inpatient_stay"):
        return []
    s = wh.table("core__inpatient_stay")
    t = s.filter(
        s.died_in_hospital.fill_null(False)
        & (s.discharge_date >= ibis.literal(start, type="date"))
        & (s.discharge_date < ibis.literal(end, type="date"))
    )
    cols = ("stay_id", "patient_id", "attending_id", "department_id", "discharge_date")
    return _records(t.select(*cols).order_by(["discharge_date", "stay_id"]))


def _stays(wh: Warehouse, start: date, end: date) -> list[dict[str, Any]]:
    """Stays discharged in [start, end) with their attending (the random-sample frame)."""
    import ibis

    if not wh.exists("core__inpatient_stay"):
        return []
    s = wh.table("core__inpatient_stay")
    t = s.filter(
        (s.discharge_date >= ibis.literal(start, type="date"))
        & (s.discharge_date < ibis.literal(end, type="date"))
        & s.attending_id.notnull()
    )
    cols = ("stay_id", "patient_id", "attending_id", "discharge_date")
    return _records(t.select(*cols).order_by("stay_id"))


def _data_end(wh: Warehouse) -> date | None:
    """The first day after the build's last complete month (``quality__period``), or None."""
    from cmo.measures.api import latest_complete

    last = latest_complete(wh, "month")
    if last is None:
        return None
    return date(last.year + last.month // 12, last.month % 12 + 1, 1)


# The measure results this domain reads: cmo.measures.api's typed reads behind the same
# cached doors the quality domain uses (the import contract lets a domain reach the
# analytics' read API, not another domain's modules).
case_record = door(_case_record, needs=None)
deaths = door(_deaths, needs=None)
stays = door(_stays, needs=None)
data_end = door(_data_end)

__all__ = [
    "NoResults",
    "case_record",
    "data_end",
    "deaths",
    "funnel",
    "results",
    "signals",
    "stays",
]
