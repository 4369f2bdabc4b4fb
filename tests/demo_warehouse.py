"""The web tests' warehouse: the real pipeline on a small demo system, then a serving snapshot.

``cmo demo generate`` (5,000 patients, 24 months) -> ``cmo ingest`` -> ``cmo measures run`` ->
publish, as the CLI does, so the pages read exactly the tables the build writes (no hand-made
copy of the quality__* contract). About 15 s on 2 cores. 5,000 rather than 2,000: with the
practitioner rule of issue 13 (outside 99.8% and a BH q below 0.05, small cells never flagged)
2,000 patients give no practitioner a signal, and the pages' practitioner paths need one (the
planted long-stay hospitalist); the structure (sites, departments, units, 60 practitioners) is
the same at both sizes.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

PATIENTS = 5000
SEED = 7
# A seed whose 5,000-patient build has current CUSUM alarms (Northgate's IMORT, December 2024,
# the planted ICU rise; MORT30 there, October), for the paths from a CUSUM alarm on the
# dashboard to its chart: at this size a site's CUSUM alarms in the last 3 months of some
# seeds only (seed 7 has none since the limits hold 4.9% false alarms a year). The e2e tests
# run on it too.
ALARM_SEED = 4
CHAIR_DEPARTMENTS = ["org-h1-cardiology"]  # the web tests' chair: Riverside's cardiology


def build_demo_warehouse(path: Path, *, patients: int = PATIENTS, seed: int = SEED) -> Path:
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish

    export = generate(
        path.parent / "demo-export",
        patients=patients,
        seed=seed,
        start=date(2023, 1, 1),
        months=24,
        progress=False,
    )
    wh = connect(path)
    try:
        ingest([export], wh, progress=False)
        write_safety_events(wh, date(2023, 1, 1), 24)
        run(wh, progress=False)
        publish(wh, "measures run")
    finally:
        wh.close()
    return path


def build_once(path: Path, seed: int = SEED) -> Path:
    """:func:`build_demo_warehouse` at ``path`` unless it is already built there: xdist workers
    (and test folders sharing the file) wait on a lock beside it; the first one builds."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path.parent / "built").exists():
            path.unlink(missing_ok=True)
            build_demo_warehouse(path, seed=seed)
            (path.parent / "built").touch()
    return path


def write_safety_events(wh: Any, start: date, months: int, every: int = 20) -> None:
    """``app__safety_event`` as the app-data sync writes it after ``cmo demo`` seeds the safety
    app (here without the app: deterministic rows), so the safety measures have rows: on each
    ward an event every ``every`` days, cycling through types, categories and harm levels;
    most closed 3-27 days after the report."""
    from datetime import timedelta

    import pyarrow as pa

    from cmo.measures.safety import EVENT_TABLE, EXPORT_SCHEMA

    loc = wh.table("fhir__location").to_pandas()
    wards = loc[loc["physical_type_code"] == "wa"].sort_values("id")
    end = date(
        start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1, 1
    )
    types = ["fall", "medication", "pressure_injury", "device", "other"]
    categories = ["incident", "incident", "near_miss", "incident", "unsafe"]
    harms = ["none", "mild", "none", "moderate", "mild", "severe", "none"]
    rows, n = [], 0
    for ward in wards.itertuples():
        day = start + timedelta(days=len(rows) % every)
        while day < end:
            n += 1
            category = categories[n % len(categories)]
            closed = day + timedelta(days=3 + n % 25)
            is_closed = n % 7 != 0 and closed < end
            rows.append(
                {
                    "event_id": n,
                    "source": "ehr" if n % 11 == 0 else "report",
                    "event_type": types[n % len(types)],
                    "category": category,
                    "harm": harms[n % len(harms)] if category == "incident" else None,
                    "occurred_date": day,
                    "reported_date": day,
                    "closed_date": closed if is_closed else None,
                    "days_to_close": (closed - day).days if is_closed else None,
                    "site_id": ward.managing_organization_id,
                    "unit_id": ward.id,
                    "status": "closed" if is_closed else "triaged",
                    "sentinel": False,
                    "anonymous": n % 9 == 0,
                }
            )
            day += timedelta(days=every)
    schema = pa.schema([(c, getattr(pa, k)()) for c, k in EXPORT_SCHEMA.items()])
    full = [{c: r.get(c) for c in EXPORT_SCHEMA} for r in rows]
    wh.write(EVENT_TABLE, pa.Table.from_pylist(full, schema=schema))


def alarm_warehouse() -> Path:
    """The build of ALARM_SEED in the session's data dir ($CMO_DATA_DIR), built once."""
    folder = Path(os.environ["CMO_DATA_DIR"]) / f"seed{ALARM_SEED}"
    return build_once(folder / "warehouse.duckdb", seed=ALARM_SEED)


def read_table(name: str, path: Path | None = None) -> Any:
    """A table of the session's build ($CMO_WAREHOUSE, or ``path``) as pandas: what the pages
    should show, read directly rather than through the app."""
    from cmo.warehouse import connect

    with connect(path or os.environ["CMO_WAREHOUSE"], read_only=True) as wh:
        return wh.table(name).to_pandas()
