"""Interop: a clinosim cohort (third-party synthetic FHIR R4 Bulk export) ingests cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmo.fhir.ingest import ingest
from cmo.fhir.schema import BY_TYPE


@pytest.mark.slow
def test_clinosim_cohort_zero_quarantine_and_counts_match_lines(
    warehouse, clinosim_export: Path
) -> None:
    manifest = json.loads((clinosim_export / "manifest.json").read_text())
    lines: dict[str, int] = {}
    for out in manifest["output"]:
        with open(clinosim_export / out["url"], "rb") as fh:
            n = sum(1 for line in fh if line.strip())
        lines[out["type"]] = lines.get(out["type"], 0) + n

    result = ingest([clinosim_export], warehouse, progress=False)

    assert result.quarantined == 0
    assert warehouse.count("fhir__quarantine") == 0
    loaded = {t: n for t, n in lines.items() if t in BY_TYPE}
    assert {"Patient", "Encounter", "Condition", "Observation"} <= set(loaded)
    for rtype, n in loaded.items():
        table = f"fhir__{BY_TYPE[rtype].table}"
        assert warehouse.count(table) == n, rtype
        assert result.rows[table] == n
    assert result.other_types == {t: n for t, n in lines.items() if t not in BY_TYPE}
    # Every encounter's subject is a loaded patient; references split into type and id.
    orphans = warehouse.sql(
        "SELECT count(*) FROM fhir__encounter e LEFT JOIN fhir__patient p ON p.id = e.subject_id "
        "WHERE p.id IS NULL OR e.subject_type <> 'Patient'"
    ).fetchone()[0]
    assert orphans == 0
