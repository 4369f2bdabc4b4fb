"""Read API over the ``quality__*`` tables: the web app's only door to measure results.

Every function takes an open :class:`cmo.warehouse.Warehouse` (read-only is enough) and returns
plain Python values (``list[dict]`` with ``str``/``int``/``float``/``bool``/``date``/``None``),
so callers never touch Ibis. A missing table (no build yet) gives an empty answer, not an error.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

LEVEL_COLUMN = {
    "site": "site_id",
    "department": "department_id",
    "unit": "unit_id",
    "practitioner": "practitioner_id",
}
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _records(expr: Any) -> list[dict[str, Any]]:
    rows = expr.to_pyarrow().to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return rows


def list_measures(wh: Warehouse) -> list[dict[str, Any]]:
    """Every measure's spec (``quality__measure``), ordered by id."""
    if not wh.exists("quality__measure"):
        return []
    return _records(wh.table("quality__measure").order_by("measure_id"))


def results(
    wh: Warehouse,
    measure_id: str,
    *,
    period_type: str = "month",
    level: str = "system",
    unit_id: str | None = None,
    site_id: str | None = None,
) -> list[dict[str, Any]]:
    """Aggregates of one measure at one level, ordered by period then unit.

    ``unit_id`` picks one unit of the level; ``site_id`` keeps units of that site (for the site
    level, the site itself; practitioners belong to the site of most of their stays).
    """
    if not wh.exists("quality__measure_result"):
        return []
    t = wh.table("quality__measure_result")
    t = t.filter((t.measure_id == measure_id) & (t.period_type == period_type) & (t.level == level))
    if unit_id is not None:
        t = t.filter(t.unit_id == unit_id)
    if site_id is not None and level != "system":
        t = t.filter(t.site_id == site_id)
    return _records(t.order_by(["period_start", "unit_id"]))


def long_rows(
    wh: Warehouse,
    measure_id: str,
    *,
    period_type: str | None = None,
    period_start: date | None = None,
    level: str | None = None,
    unit_id: str | None = None,
    limit: int = 500,
    details: bool = True,
    departments: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Patient-level rows behind a result (population members, excluded ones included).

    ``period_start`` with ``period_type`` (default month) limits to that period's discharges;
    ``level`` + ``unit_id`` to one site/department/unit/practitioner. A unit's rows are the
    stays that passed through it (``cmo.measures.core.stays_in_unit``), as its unit-level
    result counts them (docs/measures/results.md), not only those discharged from it.
    ``departments`` keeps only stays of those departments (a chair's scope), before ``limit``.

    With ``details`` (the default) each row also carries its stay's ``admit_date``,
    ``principal_dx`` and ``principal_dx_display`` and ``secondary_dx`` (a list of
    ``{"code", "display", "poa"}``, ordered by code) from ``core__inpatient_stay`` and
    ``core__stay_diagnosis``; codes are undotted ICD-10-CM as in the core layer, displays are
    the source's own (``Condition.code`` / ``Claim.diagnosis`` coding display). Callers that
    only need ids (``details=False``) skip those joins.
    """
    import ibis

    if not wh.exists("quality__measure_long"):
        return []
    t = wh.table("quality__measure_long")
    t = t.filter((t.measure_id == measure_id) & t.in_population)
    if period_start is not None:
        months = PERIOD_MONTHS[period_type or "month"]
        start = ibis.literal(period_start, type="date")
        end = ibis.literal(_add_months(period_start, months), type="date")
        t = t.filter((t.period_month >= start) & (t.period_month < end))
    if level == "unit" and unit_id is not None and wh.exists("core__stay_unit"):
        from cmo.measures.core import stays_in_unit

        t = t.semi_join(stays_in_unit(wh, unit_id), "stay_id")
    elif level and level != "system" and unit_id is not None:
        t = t.filter(t[LEVEL_COLUMN[level]] == unit_id)
    if departments is not None:
        t = t.filter(t.department_id.isin(departments))
    rows = _records(t.order_by(["discharge_date", "stay_id"]).limit(limit))
    if details and rows:
        _add_stay_details(wh, rows)
    return rows


def _add_stay_details(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    """Admission date and diagnoses (with their displays) of each row's stay, in place."""
    ids = sorted({str(r["stay_id"]) for r in rows if r.get("stay_id") is not None})
    stays: dict[str, dict[str, Any]] = {}
    if wh.exists("core__inpatient_stay"):
        s = wh.table("core__inpatient_stay")
        cols = ["stay_id", "admit_date", "principal_dx", "secondary_dx"]
        for r in _records(s.filter(s.stay_id.isin(ids)).select(*cols)):
            stays[str(r["stay_id"])] = r
    secondary: dict[str, list[tuple[str, str | None]]] = {}
    if wh.exists("core__stay_diagnosis"):
        # The child table keeps present-on-admission, which the stay's array does not.
        d = wh.table("core__stay_diagnosis")
        d = d.filter(d.stay_id.isin(ids) & ~d.is_principal.fill_null(False))
        for r in _records(d.select("stay_id", "code", "poa")):
            secondary.setdefault(str(r["stay_id"]), []).append((str(r["code"]), r["poa"]))
    else:
        for sid, r in stays.items():
            secondary[sid] = [(str(c), None) for c in r.get("secondary_dx") or []]
    codes = {str(r["principal_dx"]) for r in stays.values() if r.get("principal_dx")}
    codes |= {c for dxs in secondary.values() for c, _ in dxs}
    names = dx_displays(wh, codes)
    for row in rows:
        sid = str(row.get("stay_id"))
        stay = stays.get(sid, {})
        principal = stay.get("principal_dx")
        row["admit_date"] = stay.get("admit_date")
        row["principal_dx"] = principal
        row["principal_dx_display"] = names.get(principal) if principal else None
        row["secondary_dx"] = [
            {"code": c, "display": names.get(c), "poa": poa}
            for c, poa in sorted(secondary.get(sid, []))
        ]


def _dotted(code: str) -> str:
    """``"I509"`` -> ``"I50.9"``: ICD-10-CM's printed form (a dot after the category)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def dx_displays(wh: Warehouse, codes: set[str]) -> dict[str, str]:
    """Display text of undotted ICD-10-CM ``codes`` as the source data gives them.

    Read from ``fhir__condition`` (``Condition.code.coding[0].display``), then
    ``fhir__claim_diagnosis``; sources write codes dotted or undotted, so both forms are looked
    up. A code without a display in the data is left out.
    """
    if not codes:
        return {}
    wanted = sorted(codes | {_dotted(c) for c in codes})
    out: dict[str, str] = {}
    for table in ("fhir__claim_diagnosis", "fhir__condition"):  # later ones win
        if not wh.exists(table):
            continue
        t = wh.table(table)
        t = t.filter(t.code.isin(wanted) & t.code_display.notnull() & (t.code_display != ""))
        norm = t.code.replace(".", "").strip().upper()
        q = t.group_by(code=norm).aggregate(display=t.code_display.min())
        for r in _records(q.filter(q.code.isin(list(codes)))):
            out[str(r["code"])] = str(r["display"])
    return out


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def signals(wh: Warehouse, *, site_id: str | None = None) -> list[dict[str, Any]]:
    """Control-chart, funnel and CUSUM signals, newest first."""
    if not wh.exists("quality__signal"):
        return []
    t = wh.table("quality__signal")
    if site_id is not None:
        t = t.filter((t.site_id == site_id) | (t.level == "system"))
    return _records(t.order_by([t.period_start.desc(), "measure_id", "level", "unit_id"]))


def model_card(wh: Warehouse, measure_id: str) -> dict[str, Any] | None:
    """The latest model card of a risk-adjusted measure, or None."""
    if not wh.exists("quality__model_card"):
        return None
    t = wh.table("quality__model_card")
    rows = _records(t.filter(t.measure_id == measure_id).order_by(t.built_at.desc()).limit(1))
    if not rows:
        return None
    card: dict[str, Any] = json.loads(rows[0]["card_json"])
    card.setdefault("measure_id", measure_id)
    card.setdefault("built_at", rows[0]["built_at"])
    return card


def data_status(wh: Warehouse) -> dict[str, Any]:
    """What is in the warehouse: ingest runs, rows per table, quarantine, build steps."""
    tables = wh.list_tables()
    counts = {name: wh.count(name) for name in tables}
    status: dict[str, Any] = {
        "tables": counts,
        "ingest_runs": [],
        "quarantined": counts.get("fhir__quarantine", 0),
        "build_steps": [],
        "last_build": None,
    }
    if "fhir__ingest_run" in tables:
        status["ingest_runs"] = _records(wh.table("fhir__ingest_run"))
    if "quality__build_run" in tables:
        runs = wh.table("quality__build_run")
        latest = runs.filter(runs.started == runs.started.max())
        steps = _records(latest.order_by("step_order"))
        status["build_steps"] = steps
        if steps:
            status["last_build"] = {
                "run_id": steps[0]["run_id"],
                "started": steps[0]["started"],
                "finished": steps[0]["finished"],
                "as_of": steps[0]["as_of"],
                "seconds": sum(s["seconds"] for s in steps),
            }
    return status


QUARANTINE_LIMIT = 200


def quarantine(
    wh: Warehouse, *, limit: int = QUARANTINE_LIMIT, offset: int = 0, with_text: bool = False
) -> dict[str, Any]:
    """Quarantined input lines (``fhir__quarantine``), newest ingest run first.

    Returns ``{"total": n, "rows": [...]}``; each row has run_id, started (the run's start, if
    the run log has it), file, line, resource_type, reason and, only ``with_text``, the first
    characters of the line (``text``), which can hold patient data: callers pass
    ``with_text=True`` only for users allowed patient data. Ordered by run start (newest
    first), then file and line; ``limit``/``offset`` page through them.
    """
    if not wh.exists("fhir__quarantine"):
        return {"total": 0, "rows": []}
    q = wh.table("fhir__quarantine")
    total = int(q.count().to_pyarrow().as_py())
    cols = ["run_id", "file", "line", "resource_type", "reason"] + (["text"] if with_text else [])
    q = q.select(*cols)
    if wh.exists("fhir__ingest_run"):
        runs = wh.table("fhir__ingest_run").select("run_id", "started")
        q = q.left_join(runs, "run_id").select(*cols, "started")
        order = [q.started.desc(nulls_first=False), q.run_id.desc(), "file", "line"]
    else:
        order = [q.run_id.desc(), "file", "line"]
    rows = _records(q.order_by(order).limit(limit, offset=offset))
    return {"total": total, "rows": rows}
