"""Small typed reads of the analytics warehouse (read-only): patient/stay lookup for a report
(the event rates' patient days are the registry's: ``cmo.safety.analytics.patient_days``).

The web never writes to the warehouse (ARCHITECTURE.md §2); each function opens it read-only
and closes it again. Callers access-log what they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PatientLink:
    patient_id: str
    stay_id: str = ""
    unit_code: str = ""
    site_code: str = ""


def _open(path: Path | None = None) -> Any:
    from django.conf import settings

    from cmo.warehouse import connect

    return connect(path or settings.WAREHOUSE, read_only=True)


def lookup_patient(kind: str, value: str, path: Path | None = None) -> PatientLink | None:
    """A patient by MRN (``Patient.identifier`` value, or the Patient id) or a stay by its
    encounter id (``core__inpatient_stay.stay_id``); None when the warehouse has neither.

    Raises CmoError when the warehouse cannot be opened (the form shows it as a field error).
    """
    value = value.strip()
    wh = _open(path)
    try:
        if kind == "encounter":
            if not wh.exists("core__inpatient_stay"):
                return None
            s = wh.table("core__inpatient_stay")
            cols = [c for c in ("stay_id", "patient_id", "unit_id", "site_id") if c in s.columns]
            rows = s.filter(s.stay_id == value).select(*cols).limit(1).to_pyarrow().to_pylist()
            if not rows:
                return None
            r = rows[0]
            return PatientLink(
                str(r["patient_id"]),
                str(r["stay_id"]),
                str(r.get("unit_id") or ""),
                str(r.get("site_id") or ""),
            )
        found: list[str] = []
        if wh.exists("fhir__patient_identifier"):
            t = wh.table("fhir__patient_identifier")
            hits = t.filter(t.value == value).select("patient_id").limit(1).to_pyarrow()
            found = [str(x) for x in hits.column("patient_id").to_pylist()]
        if not found and wh.exists("fhir__patient"):
            p = wh.table("fhir__patient")
            hits = p.filter(p.id == value).select("id").limit(1).to_pyarrow()
            found = [str(x) for x in hits.column("id").to_pylist()]
        return PatientLink(found[0]) if found else None
    finally:
        wh.close()


def stay_department(stay_id: str, path: Path | None = None) -> str | None:
    """The department id of a stay (``core__inpatient_stay.department_id``), if known."""
    wh = _open(path)
    try:
        s = wh.table("core__inpatient_stay")
        if "department_id" not in s.columns:
            return None
        hit = s.filter(s.stay_id == stay_id).select("department_id").limit(1).to_pyarrow()
        values = hit.column("department_id").to_pylist()
        return str(values[0]) if values and values[0] else None
    finally:
        wh.close()
