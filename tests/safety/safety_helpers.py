"""Helpers of the safety tests (a uniquely named module, as tests/fhir/ingest_helpers.py: the
test folders are not packages, so every ``conftest`` module has the same name)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

# The small warehouse: patient P1 has MRN M001 and stay E1 in the ICU of site S1.
MRN = "M001"


def write_safety_warehouse(path: Path, *, months: int = 24, start: date = date(2024, 1, 1)) -> Path:
    """fhir__patient(+identifier), core__inpatient_stay and core__stay_unit: unit U-ICU has 10
    beds, always full with back-to-back 10-day stays (10 patient days a day). Stay E1 is
    patient P1's."""
    from cmo.warehouse import connect

    stays, units = [], []
    day = pd.Timestamp(start)
    end = day + pd.DateOffset(months=months)
    i = 0
    while day < end:
        for bed in range(10):
            i += 1
            sid = f"E{i}"
            stays.append(
                {
                    "stay_id": sid,
                    "patient_id": f"P{i}",
                    "admit_date": day.date(),
                    "discharge_date": (day + pd.Timedelta(days=10)).date(),
                    "site_id": "S1",
                    "department_id": "D-CAR" if bed % 2 else "D-SUR",
                    "unit_id": "U-ICU",
                }
            )
            units.append(
                {
                    "stay_id": sid,
                    "unit_id": "U-ICU",
                    "first_ts": datetime.combine(day.date(), datetime.min.time()),
                    "last_ts": datetime.combine(
                        (day + pd.Timedelta(days=10)).date(), datetime.min.time()
                    ),
                    "is_discharge_unit": True,
                }
            )
        day += pd.Timedelta(days=10)
    wh = connect(path)
    try:
        wh.write("fhir__patient", pd.DataFrame({"id": ["P1", "P2"], "gender": ["female", "male"]}))
        wh.write(
            "fhir__patient_identifier",
            pd.DataFrame({"patient_id": ["P1"], "pos": [0], "system": ["urn:mrn"], "value": [MRN]}),
        )
        wh.write("core__inpatient_stay", pd.DataFrame(stays))
        wh.write("core__stay_unit", pd.DataFrame(units))
    finally:
        wh.close()
    return path


def report_data(directory: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A valid report form POST (a fall with mild harm in the ICU)."""
    data = {
        "event_type": "fall",
        "category": "incident",
        "harm": "mild",
        "merp": "",
        "occurred_at": "2026-01-05T10:30",
        "unit": directory["icu"].pk,
        "location_detail": "Bed 4",
        "description": "Patient slipped getting out of bed; bruised knee.",
        "lookup_kind": "mrn",
        "lookup_value": "",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}
