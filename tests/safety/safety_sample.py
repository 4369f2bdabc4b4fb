"""Small sample data for the safety tests (tests/safety, tests/e2e), as tests/demo_warehouse.py is
for the web tests: a real DuckDB warehouse with patients, stays and unit days, and directory
rows. Not used by the app itself."""

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


def make_directory() -> dict[str, Any]:
    """Site S1 with units U-ICU and U-WARD; departments CHAIR_DEPARTMENTS[0] (the test
    chair's cardiology) and D-SUR; practitioner PR1 in cardiology and PR2 in D-SUR."""
    from cmo.directory.models import Department, Membership, Practitioner, Site, Unit

    # update_or_create: the web tests' chair fixture may have made D-CAR as a placeholder.
    site, _ = Site.objects.update_or_create(code="S1", defaults={"name": "Riverside"})
    out: dict[str, Any] = {"site": site}
    out["icu"] = Unit.objects.create(code="U-ICU", name="ICU", site=site)
    out["ward"] = Unit.objects.create(code="U-WARD", name="Ward 4", site=site)
    from demo_warehouse import CHAIR_DEPARTMENTS  # the web tests' chair's department

    out["car"], _ = Department.objects.update_or_create(
        code=CHAIR_DEPARTMENTS[0], defaults={"name": "Cardiology", "site": site}
    )
    out["sur"], _ = Department.objects.update_or_create(
        code="D-SUR", defaults={"name": "Surgery", "site": site}
    )
    out["pr1"] = Practitioner.objects.create(code="PR1", name="Dr One", family_name="One")
    out["pr2"] = Practitioner.objects.create(code="PR2", name="Dr Two", family_name="Two")
    Membership.objects.create(practitioner=out["pr1"], department=out["car"])
    Membership.objects.create(practitioner=out["pr2"], department=out["sur"])
    return out
