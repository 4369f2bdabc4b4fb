"""Small sample data for the safety tests (tests/safety, tests/e2e), as tests/demo_warehouse.py is
for the web tests: a real DuckDB warehouse with patients, stays and unit days, and directory
rows. Not used by the app itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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


# -- the registry's safety measures on the real pipeline ---------------------------------------
REGISTRY_UNIT = "U-ICU"  # the directory's ICU (make_directory), a ward-level FHIR Location


def _testbed() -> Any:
    """tests/measures/testbed.py's TestBed (loaded by path: tests/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "measures" / "testbed.py"
    spec = importlib.util.spec_from_file_location("safety_testbed", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TestBed()


def registry_events() -> list[dict[str, Any]]:
    """``app__safety_event`` rows as the sync exports them: 3 falls a month in U-ICU through
    2024, 1 a month in 2025 (a shift after an action on 1 January 2025); 2024's first fall of
    each month closed after 5 days, the second a near miss."""
    from cmo.measures.safety import EXPORT_SCHEMA

    rows: list[dict[str, Any]] = []
    for year, per_month in ((2024, 3), (2025, 1)):
        for month in range(1, 13):
            for k in range(per_month):
                day = date(year, month, 5 + k)
                closed = day + timedelta(days=5) if k == 0 else None
                row = {c: None for c in EXPORT_SCHEMA}
                row.update(
                    event_id=len(rows) + 1,
                    source="report",
                    event_type="fall",
                    category="near_miss" if k == 1 else "incident",
                    harm=None if k == 1 else "mild",
                    occurred_date=day,
                    reported_date=day,
                    closed_date=closed,
                    days_to_close=5 if closed is not None else None,
                    site_id="S1",
                    unit_id=REGISTRY_UNIT,
                    status="closed" if closed is not None else "triaged",
                    sentinel=False,
                    anonymous=False,
                )
                rows.append(row)
    return rows


def build_registry_warehouse(
    path: Path, *, months: int = 24, start: date = date(2024, 1, 1)
) -> Path:
    """The real pipeline (ingest, measures build, serving snapshot) on a test bed like
    :func:`write_safety_warehouse`'s: ward U-ICU of site S1 with 10 beds always full, back-to-back
    10-day stays (admitted 10:00, so 10 NHSN census days each: 310 patient days in a 31-day
    month), and :func:`registry_events` as ``app__safety_event``."""
    import pyarrow as pa

    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.measures.safety import EVENT_TABLE, EXPORT_SCHEMA
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish

    bed = _testbed()
    bed.organization("S1", "Riverside")
    bed.organization("S1-CAR", "Riverside Cardiology", part_of="S1")
    bed.location(REGISTRY_UNIT, "Riverside ICU", "wa")
    day = pd.Timestamp(start)
    end = day + pd.DateOffset(months=months)
    i = 0
    while day < end:
        for _ in range(10):
            i += 1
            bed.patient(f"RP{i}")
            out = day + pd.Timedelta(days=10)
            bed.stay(
                f"RE{i}",
                f"RP{i}",
                f"{day.date()}T10:00:00Z",
                f"{out.date()}T10:00:00Z",
                provider="S1-CAR",
                location=REGISTRY_UNIT,
                dx=["J18.9"],
            )
        day += pd.Timedelta(days=10)
    wh = connect(path)
    try:
        schema = pa.schema([(c, getattr(pa, k)()) for c, k in EXPORT_SCHEMA.items()])
        wh.write(EVENT_TABLE, pa.Table.from_pylist(registry_events(), schema=schema))
        ingest([bed.write(path.parent / "fhir")], wh, progress=False)
        run(wh, progress=False)
        publish(wh, "measures run")
    finally:
        wh.close()
    return path
