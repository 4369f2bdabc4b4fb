"""Memory pressure (CMO_INGEST_MEMORY): the ingest spills, reads line by line, or stops with one
line and writes nothing; it never drops rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmo import config
from cmo.fhir.ingest import IngestMemoryError, ingest


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    def set_limit(value: str) -> None:
        monkeypatch.setenv("CMO_INGEST_MEMORY", value)
        config.reload()

    yield set_limit
    monkeypatch.delenv("CMO_INGEST_MEMORY", raising=False)
    config.reload()


def _export(folder: Path, files: int, per_file: int) -> Path:
    folder.mkdir()
    for k in range(files):
        with open(folder / f"Observation.{k}.ndjson", "w") as fh:
            for i in range(per_file):
                fh.write(json.dumps({
                    "resourceType": "Observation", "id": f"o{k}-{i}", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "valueQuantity": {"value": 60 + i % 40, "unit": "/min"},
                    "note": [{"text": "x" * 200}],
                }) + "\n")  # fmt: skip
    return folder


def test_a_limit_below_the_readers_buffers_still_loads_every_row(
    warehouse, tmp_path: Path, limit
) -> None:
    """DuckDB's NDJSON reader needs 2 x 32 MB per thread that do not spill: under 64 MB it
    cannot run, and the files are read line by line instead."""
    limit("48MB")
    result = ingest([_export(tmp_path / "x", 3, 4000)], warehouse, progress=False)
    assert warehouse.count("fhir__observation") == 12000
    assert result.counts is not None and result.counts.loaded == 12000


def test_a_limit_too_small_for_anything_is_one_error_and_nothing_written(
    warehouse, tmp_path: Path, limit
) -> None:
    limit("1MB")
    with pytest.raises(IngestMemoryError, match="CMO_INGEST_MEMORY=1MB"):
        ingest([_export(tmp_path / "x", 1, 2000)], warehouse, progress=False)
    assert not warehouse.exists("fhir__observation")
