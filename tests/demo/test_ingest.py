"""The export goes through `cmo ingest` with zero quarantined lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest


def test_small_export_ingests_without_quarantine(small_export: Path, warehouse) -> None:  # type: ignore[no-untyped-def]
    ingest_module = pytest.importorskip("cmo.fhir.ingest", reason="the ingest is not built yet")
    paths = sorted(small_export.glob("*.ndjson"))
    result = ingest_module.ingest(paths, warehouse, progress=False)
    assert result.quarantined == 0
    assert result.other_types == {}
    manifest = orjson.loads((small_export / "manifest.json").read_bytes())
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert result.rows["fhir__patient"] == counts["Patient"]
    assert result.rows["fhir__encounter"] == counts["Encounter"]
    assert result.rows["fhir__condition"] == counts["Condition"]
    assert result.rows["fhir__claim"] == counts["Claim"]
    enc = warehouse.table("fhir__encounter")
    imp = enc.filter(enc["class_code"] == "IMP")
    assert imp.count().to_pyarrow().as_py() > 300
    # Attribution columns the measures read are populated for every inpatient stay.
    missing = imp.filter(
        imp["discharge_disposition_code"].isnull() | imp["service_provider_id"].isnull()
    )
    assert missing.count().to_pyarrow().as_py() == 0
