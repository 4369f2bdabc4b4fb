"""The board report (issue 19): ``cmo report board`` on the 20,000-patient demo, <= 10 s.

Builds the demo (``cmo demo generate`` -> ingest -> ``cmo measures run`` -> serving snapshot;
24 months from 2023-01, so 2024-Q4 is the latest complete quarter), then times the command as a
user runs it, in a child process: Django set-up and migrations of a fresh app database, every
read, the charts (vl-convert), board.html and board.pdf (WeasyPrint). Wall-clock and CPU
seconds are both printed: on a shared machine the CPU time is the steadier figure.

``python -m benchmarks board [--quick]`` (quick: 2,000 patients)
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BUDGET_SECONDS = 10.0


def _build(path: Path, patients: int) -> None:
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish

    export = generate(path.parent / "export", patients=patients, seed=19,
                      start=date(2023, 1, 1), months=24, progress=False)  # fmt: skip
    wh = connect(path)
    try:
        ingest([export], wh, progress=False)
        run(wh, progress=False)
        publish(wh, "measures run")
    finally:
        wh.close()


def run(quick: bool) -> dict:
    patients = 2_000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warehouse = root / "warehouse.duckdb"
        start = time.perf_counter()
        _build(warehouse, patients)
        built = time.perf_counter() - start
        env = {**os.environ, "CMO_DATA_DIR": str(root / "data"), "CMO_WAREHOUSE": str(warehouse)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        cmo = str(Path(sys.executable).with_name("cmo"))
        cmd = [cmo, "report", "board", "--period", "2024-Q4", "--out", str(root / "out")]
        times = []
        for _ in range(2):  # the first run also migrates a fresh app database
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            times.append((round(wall, 2), round(cpu, 2)))
        pdf = (root / "out" / "board.pdf").stat().st_size
    load = os.getloadavg()[0]
    print(
        f"cmo report board on {patients:,} patients (build {built:.0f} s): "
        f"first run {times[0][0]} s wall / {times[0][1]} s CPU (with migrations), "
        f"second {times[1][0]} s wall / {times[1][1]} s CPU; PDF {pdf // 1024} KB; "
        f"load average {load:.1f}; budget {BUDGET_SECONDS:.0f} s"
    )
    return {
        "patients": patients,
        "first_wall_s": times[0][0],
        "first_cpu_s": times[0][1],
        "wall_s": times[1][0],
        "cpu_s": times[1][1],
        "load_average": round(load, 1),
        "pdf_kb": pdf // 1024,
    }
