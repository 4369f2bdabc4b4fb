"""Case volume per practitioner and privilege, read from the warehouse (no Django).

The medical staff office keeps a code list per privilege (``staff__privilege_code``) and hands
it here as plain rows. Two kinds of cases count (issue 15, TJC MS.08.01.03 asks privileges to be
renewed on the practitioner's own activity):

- ``procedure``: a completed Procedure whose coding matches and whose performer is the
  practitioner (``fhir__procedure_performer.actor_id``), performed in the window;
- ``attending``: an inpatient stay (``core__inpatient_stay``) discharged in the window with the
  practitioner as attending and a principal diagnosis that matches.

A code ending in ``*`` matches every code it starts (``0SR*`` = every hip/knee replacement root
operation in ICD-10-PCS); dots are ignored so ``I21.4`` and ``I214`` are the same ICD-10 code.
Each case counts once per privilege, however many of its codes match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse


def _matches(code: Any, rules: Any) -> Any:
    """Ibis predicate: ``code`` equals the rule's code, or starts with its prefix."""
    clean = code.replace(".", "")
    return (rules.prefix & clean.startswith(rules.stem)) | (~rules.prefix & (clean == rules.stem))


def case_volume(
    wh: Warehouse, codes: Iterable[Mapping[str, Any]], start: date, end: date
) -> dict[tuple[str, Any], int]:
    """``{(practitioner warehouse id, privilege id): cases}`` for cases in ``[start, end)``.

    ``codes``: rows with ``privilege``, ``source`` (procedure | attending), ``system``, ``code``.
    Tables the warehouse lacks count nothing (a warehouse without procedures has no volume).
    """
    import ibis

    rows = [
        {
            "privilege": str(c["privilege"]),
            "source": c["source"],
            "system": c["system"],
            "stem": c["code"].replace(".", "").rstrip("*"),
            "prefix": c["code"].endswith("*"),
        }
        for c in codes
    ]
    out: dict[tuple[str, Any], int] = {}
    if not rows:
        return out
    rules = ibis.memtable(rows)
    parts = []
    tables = set(wh.list_tables())
    if {"fhir__procedure", "fhir__procedure_coding", "fhir__procedure_performer"} <= tables:
        parts.append(_procedures(wh, rules.filter(rules.source == "procedure"), start, end))
    if {"core__inpatient_stay", "core__stay_diagnosis"} <= tables:
        parts.append(_stays(wh, rules.filter(rules.source == "attending"), start, end))
    for part in parts:
        for r in part.to_pyarrow().to_pylist():
            key = (r["practitioner"], r["privilege"])
            out[key] = out.get(key, 0) + int(r["cases"])
    return out


def _procedures(wh: Warehouse, rules: Any, start: date, end: date) -> Any:
    proc, coding, performer = (
        wh.table("fhir__procedure"),
        wh.table("fhir__procedure_coding"),
        wh.table("fhir__procedure_performer"),
    )
    when = proc.performed_date_time_date.fill_null(proc.performed_period_start_date)
    done = proc.filter((proc.status == "completed") & (when >= start) & (when < end)).select(
        pid=proc.id
    )
    by = performer.filter(performer.actor_type == "Practitioner").select("procedure_id", "actor_id")
    joined = coding.join(done, coding.procedure_id == done.pid).join(
        by, coding.procedure_id == by.procedure_id
    )
    hits = joined.join(rules, (joined.system == rules.system) & _matches(joined.code, rules))
    return hits.group_by(practitioner=hits.actor_id, privilege=hits.privilege).aggregate(
        cases=hits.pid.nunique()
    )


def _stays(wh: Warehouse, rules: Any, start: date, end: date) -> Any:
    stay, dx = wh.table("core__inpatient_stay"), wh.table("core__stay_diagnosis")
    window = stay.filter((stay.discharge_date >= start) & (stay.discharge_date < end))
    principal = dx.filter(dx.is_principal)
    joined = window.select("stay_id", "attending_id").join(principal, "stay_id")
    hits = joined.join(rules, _matches(joined.code, rules))
    return hits.group_by(practitioner=hits.attending_id, privilege=hits.privilege).aggregate(
        cases=hits.stay_id.nunique()
    )


def data_end(wh: Warehouse) -> date | None:
    """The last day the warehouse has cases for (latest discharge or procedure), or None.

    Volumes are counted over the 24 months up to it, so a warehouse loaded some weeks ago (or
    the demo's fixed window) does not show everyone with no cases.
    """
    tables = set(wh.list_tables())
    ends = []
    if "core__inpatient_stay" in tables:
        ends.append(wh.table("core__inpatient_stay").discharge_date.max().execute())
    if "fhir__procedure" in tables:
        ends.append(wh.table("fhir__procedure").performed_date_time_date.max().execute())
    # Ibis returns a pandas Timestamp for a DATE max on DuckDB: back to a date.
    found = [e.date() if hasattr(e, "date") else e for e in ends if e is not None]
    return max(found) if found else None
