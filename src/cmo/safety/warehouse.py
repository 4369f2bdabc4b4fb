"""Small typed reads of the analytics warehouse (read-only): patient/stay lookup for a report,
patient days by unit and month for the event rates.

The web never writes to the warehouse (ARCHITECTURE.md §2); each function opens it read-only
and closes it again. Callers access-log what they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


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


def patient_days(start: date, end: date, path: Path | None = None) -> pd.DataFrame:
    """Patient days by unit and month (columns unit_id, month, patient_days) for stays that
    overlap [start, end), from ``core__stay_unit`` (each unit a stay passed through) or, in an
    older warehouse, the discharge unit of ``core__inpatient_stay``.

    A patient day is a midnight spent in the unit (the NHSN census convention); a same-day stay
    counts one day so it is not invisible in the denominator.
    """
    wh = _open(path)
    try:
        if wh.exists("core__stay_unit"):
            su = wh.table("core__stay_unit")
            t = su.select(unit_id=su.unit_id, first=su.first_ts.date(), last=su.last_ts.date())
        elif wh.exists("core__inpatient_stay"):
            s = wh.table("core__inpatient_stay")
            t = s.select(unit_id=s.unit_id, first=s.admit_date, last=s.discharge_date)
        else:
            return pd.DataFrame(columns=["unit_id", "month", "patient_days"])
        t = t.filter((t["first"] < end) & (t["last"] >= start) & t.unit_id.notnull())
        df = t.to_pandas()
    finally:
        wh.close()
    return _days_by_month(df, start, end)


def _days_by_month(df: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=["unit_id", "month", "patient_days"])
    first = pd.to_datetime(df["first"]).to_numpy()
    last = pd.to_datetime(df["last"]).to_numpy()
    one = np.timedelta64(1, "D")
    # The nights of a stay: first .. last-1; a same-day stay keeps its one day. Then the window.
    a = np.maximum(first, np.datetime64(start))
    b = np.minimum(np.where(last > first, last - one, first), np.datetime64(end) - one)
    keep = b >= a
    units, a, b = df["unit_id"].astype(str).to_numpy()[keep], a[keep], b[keep]
    n = ((b - a) // one + 1).astype(int)
    rows = np.repeat(np.arange(len(n)), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    days = pd.DatetimeIndex(a[rows] + offsets * one)
    out = (
        pd.DataFrame({"unit_id": units[rows], "month": days.to_period("M").start_time.date})
        .groupby(["unit_id", "month"])
        .size()
        .rename("patient_days")
        .reset_index()
    )
    return out
