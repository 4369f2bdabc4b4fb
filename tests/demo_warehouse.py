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
        run(wh, progress=False)
        publish(wh, "measures run")
    finally:
        wh.close()
    return path


def read_table(name: str) -> Any:
    """A table of the session's build ($CMO_WAREHOUSE) as pandas: what the pages should show,
    read directly rather than through the app."""
    from cmo.warehouse import connect

    with connect(os.environ["CMO_WAREHOUSE"], read_only=True) as wh:
        return wh.table(name).to_pandas()
