"""Idempotent and incremental: merge by id, latest meta.lastUpdated wins, then the later file."""

from __future__ import annotations

import json
from pathlib import Path

from ingest_helpers import rows

from cmo.fhir.ingest import ingest


def _enc(i: str, updated: str | None, status: str, n_dx: int) -> str:
    r: dict = {
        "resourceType": "Encounter",
        "id": i,
        "status": status,
        "diagnosis": [
            {"condition": {"reference": f"Condition/c{k}"}, "rank": k + 1} for k in range(n_dx)
        ],
    }
    if updated:
        r["meta"] = {"lastUpdated": updated}
    return json.dumps(r)


def _file(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _tables(wh) -> dict:
    return {
        t: rows(wh, f"SELECT * FROM {t} ORDER BY ALL")
        for t in wh.list_tables("fhir")
        if t not in ("fhir__ingest_run", "fhir__quarantine")
    }


def test_same_files_twice_leave_identical_tables(warehouse, edge_dir, bundle_dir) -> None:
    ingest([edge_dir, bundle_dir], warehouse, progress=False)
    first = _tables(warehouse)
    ingest([edge_dir, bundle_dir], warehouse, progress=False)
    assert _tables(warehouse) == first
    assert warehouse.count("fhir__ingest_run") == 2


def test_newer_version_updates_row_and_children(warehouse, tmp_path: Path) -> None:
    old = _file(
        tmp_path / "v1" / "Encounter.ndjson",
        _enc("e1", "2024-01-01T00:00:00Z", "in-progress", 3),
        _enc("e2", "2024-01-01T00:00:00Z", "finished", 1),
    )
    new = _file(
        tmp_path / "v2" / "Encounter.ndjson", _enc("e1", "2024-02-01T00:00:00+01:00", "finished", 1)
    )
    ingest([old], warehouse, progress=False)
    result = ingest([new], warehouse, progress=False)
    assert result.rows == {
        "fhir__encounter": 1,
        "fhir__encounter_diagnosis": 1,
        "fhir__encounter_participant": 0,
        "fhir__encounter_location": 0,
        "fhir__encounter_discharge_disposition": 0,
    }
    got = rows(warehouse, "SELECT id, status, source_file FROM fhir__encounter ORDER BY id")
    assert got == [("e1", "finished", str(new)), ("e2", "finished", str(old))]
    dx = rows(
        warehouse,
        "SELECT encounter_id, count(*) FROM fhir__encounter_diagnosis GROUP BY ALL ORDER BY ALL",
    )
    assert dx == [("e1", 1), ("e2", 1)]  # the old version's three diagnoses are gone


def test_older_export_does_not_override(warehouse, tmp_path: Path) -> None:
    new = _file(tmp_path / "new.ndjson", _enc("e1", "2024-03-01T00:00:00Z", "finished", 2))
    old = _file(tmp_path / "old.ndjson", _enc("e1", "2024-01-01T00:00:00Z", "planned", 0))
    ingest([new], warehouse, progress=False)
    result = ingest([old], warehouse, progress=False)
    assert result.rows["fhir__encounter"] == 0
    assert rows(warehouse, "SELECT status FROM fhir__encounter") == [("finished",)]
    assert warehouse.count("fhir__encounter_diagnosis") == 2


def test_within_a_run_latest_wins_then_later_file(warehouse, tmp_path: Path) -> None:
    a = _file(
        tmp_path / "a.ndjson",
        _enc("e1", "2024-05-01T00:00:00Z", "latest", 1),
        _enc("e2", "2024-01-01T00:00:00Z", "tie-first-file", 1),
        _enc("e3", None, "no-date-first", 1),
    )
    b = _file(
        tmp_path / "b.ndjson",
        _enc("e1", "2024-04-01T00:00:00Z", "older-in-later-file", 1),
        _enc("e2", "2024-01-01T00:00:00Z", "tie-later-file", 2),
        _enc("e3", None, "no-date-later", 1),
    )
    ingest([a, b], warehouse, progress=False)
    got = dict(rows(warehouse, "SELECT id, status FROM fhir__encounter"))
    assert got == {"e1": "latest", "e2": "tie-later-file", "e3": "no-date-later"}
    assert rows(
        warehouse, "SELECT count(*) FROM fhir__encounter_diagnosis WHERE encounter_id = 'e2'"
    ) == [(2,)]


def test_run_log_records_each_run(warehouse, edge_dir) -> None:
    result = ingest([edge_dir], warehouse, progress=False)
    log = rows(
        warehouse,
        "SELECT run_id, engine, files, rows, quarantined, other_types, "
        "finished >= started FROM fhir__ingest_run",
    )
    assert len(log) == 1
    run_id, engine, files, rows_json, quarantined, others, ordered = log[0]
    assert (run_id, engine, files, quarantined, ordered) == (result.run_id, "duckdb", 6, 0, True)
    assert json.loads(rows_json) == result.rows
    assert json.loads(others) == {}
