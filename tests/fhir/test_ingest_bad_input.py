"""Bad input: bad lines are quarantined with file and line while every good line loads; input
that cannot be read at all is a one-line error."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ingest_helpers import rows

from cmo.fhir.ingest import IngestError, ingest


def _patient(i: int) -> str:
    return json.dumps(
        {
            "resourceType": "Patient",
            "id": f"p{i}",
            "gender": "female",
            "birthDate": f"19{i % 100:02d}-01-01",
        }
    )


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_one_malformed_line_among_thousands(warehouse, tmp_path: Path) -> None:
    lines = [_patient(i) for i in range(3000)]
    lines[1233] = '{"resourceType": "Patient", "id": "broken", "gender": '  # line 1234
    f = _write(tmp_path / "Patient.ndjson", lines)
    result = ingest([f], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 2999
    assert result.quarantined == 1
    q = rows(warehouse, "SELECT file, line, reason, text FROM fhir__quarantine")
    assert q == [(str(f), 1234, "invalid JSON", lines[1233])]
    # The rows after the bad line keep their own line numbers.
    assert rows(warehouse, "SELECT source_line FROM fhir__patient WHERE id = 'p2999'") == [(3000,)]


def test_wrong_type_missing_id_not_object_and_missing_type(warehouse, tmp_path: Path) -> None:
    lines = [
        _patient(1),
        json.dumps(
            {
                "resourceType": "Observation",
                "id": "o-bad",
                "status": "final",
                "valueQuantity": {"value": "ninety-eight"},
            }
        ),
        json.dumps({"resourceType": "Patient", "gender": "male"}),
        "[1, 2, 3]",
        json.dumps({"id": "no-type"}),
        json.dumps({"resourceType": "Patient", "id": "p-long", "gender": "x" * 2000}),
        json.dumps({"resourceType": "Observation", "id": "o-ok", "valueInteger": 5}),
        "",  # a blank line is skipped, not quarantined
        json.dumps({"resourceType": "Encounter", "id": "e-bad", "period": ["not", "a", "period"]}),
    ]
    f = _write(tmp_path / "mixed.ndjson", lines)
    result = ingest([f], warehouse, progress=False)
    got = {
        r[0]: r[1:]
        for r in rows(
            warehouse, "SELECT line, resource_type, reason, length(text) FROM fhir__quarantine"
        )
    }
    assert got[2][0:2] == (
        "Observation",
        'valueQuantity.value: expected decimal, got "ninety-eight"',
    )
    assert got[3][1] == "missing id"
    assert got[4][1] == "not a JSON object, got array"
    assert got[5][1] == "missing resourceType"
    assert got[9][1] == "period: expected object, got array"
    assert set(got) == {2, 3, 4, 5, 9}
    assert result.quarantined == 5
    assert sorted(r[0] for r in rows(warehouse, "SELECT id FROM fhir__patient")) == ["p-long", "p1"]
    assert rows(warehouse, "SELECT id, value_integer FROM fhir__observation") == [("o-ok", 5)]


def test_quarantine_keeps_the_first_500_characters(warehouse, tmp_path: Path) -> None:
    bad = '{"resourceType": "Patient", "id": "' + "x" * 1000
    f = _write(tmp_path / "Patient.ndjson", [_patient(1), bad])
    ingest([f], warehouse, progress=False)
    assert rows(warehouse, "SELECT text FROM fhir__quarantine") == [(bad[:500],)]


def test_truncated_gzip_loads_complete_lines_and_quarantines_the_break(
    warehouse, tmp_path: Path
) -> None:
    data = ("\n".join(_patient(i) for i in range(5000)) + "\n").encode()
    whole = gzip.compress(data)
    f = tmp_path / "Patient.ndjson.gz"
    f.write_bytes(whole[: len(whole) // 2])
    result = ingest([f], warehouse, progress=False)
    n = warehouse.count("fhir__patient")
    assert 0 < n < 5000
    q = rows(warehouse, "SELECT file, line, reason FROM fhir__quarantine")
    assert len(q) == 1 and q[0][0] == str(f)
    assert q[0][1] == n + 1 and q[0][2].startswith("unreadable gzip")
    assert result.quarantined == 1


def test_gzip_that_reads_whole(warehouse, tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson.gz"
    f.write_bytes(gzip.compress(("\n".join(_patient(i) for i in range(10)) + "\n").encode()))
    ingest([f], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 10


def test_unreadable_gzip_alone_is_an_error_and_writes_nothing(warehouse, tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson.gz"
    f.write_bytes(b"\x1f\x8b" + b"this is not gzip at all")  # gzip's magic bytes, then junk
    with pytest.raises(IngestError, match=r"no readable FHIR resource .*unreadable gzip"):
        ingest([f], warehouse, progress=False)
    assert not warehouse.exists("fhir__quarantine")  # the run rolled back


def test_missing_path_is_an_error(warehouse, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest([tmp_path / "nope"], warehouse, progress=False)
    assert not warehouse.exists("fhir__patient")


def test_nothing_readable_is_an_error(warehouse, tmp_path: Path) -> None:
    f = _write(tmp_path / "junk.ndjson", ["not json", "{]"])
    with pytest.raises(IngestError, match="2 line"):
        ingest([f], warehouse, progress=False)


def test_bom_crlf_and_blank_lines_keep_line_numbers(warehouse, tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson"
    f.write_bytes(
        b'\xef\xbb\xbf{"resourceType":"Patient","id":"a"}\r\nbad\r\n\r\n'
        b'{"resourceType":"Patient","id":"b"}\r\n'
    )
    result = ingest([f], warehouse, progress=False)
    assert rows(warehouse, "SELECT id, source_line FROM fhir__patient ORDER BY id") == [
        ("a", 1),
        ("b", 4),
    ]
    assert rows(warehouse, "SELECT line, reason, text FROM fhir__quarantine") == [
        (2, "invalid JSON", "bad")
    ]
    assert result.quarantined == 1


def test_a_bad_line_does_not_change_how_the_good_lines_read(tmp_path: Path) -> None:
    """A clean file goes through DuckDB's read_json; a file with one bad line is read line by
    line. The good lines must give the same rows either way (same conversion rules)."""
    from cmo.warehouse import connect

    good = [
        json.dumps({"resourceType": "Observation", "id": "o1", "status": "final",
                    "valueQuantity": {"value": 98.6, "unit": "degF"}}),
        json.dumps({"resourceType": "Observation", "id": "o2", "valueBoolean": True,
                    "valueInteger": 3, "component": [{"valueQuantity": {"value": 1}}]}),
        json.dumps({"resourceType": "Observation", "id": "o3", "status": 7,
                    "effectiveDateTime": "2024-02-03T04:05:06+01:00"}),
    ]  # fmt: skip
    (tmp_path / "clean").mkdir()
    (tmp_path / "dirty").mkdir()
    clean = _write(tmp_path / "clean" / "Observation.ndjson", good)
    dirty = _write(tmp_path / "dirty" / "Observation.ndjson", [*good, "{oops"])
    out = []
    for f in (clean, dirty):
        with connect(tmp_path / f"{f.parent.name}.duckdb") as wh:
            ingest([f], wh, progress=False)
            out.append(
                rows(wh, "SELECT * EXCLUDE (source_file) FROM fhir__observation ORDER BY id")
                + rows(wh, "SELECT * FROM fhir__observation_component")
            )
    assert out[0] == out[1]
    assert [r[0] for r in out[0][:3]] == ["o1", "o2", "o3"]


def test_manifest_with_sub_folder_url_and_a_missing_file(warehouse, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    _write(tmp_path / "out" / "Patient.ndjson", [_patient(1), _patient(2)])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"output": [{"type": "Patient", "url": "out/Patient.ndjson"}]}))
    ingest([tmp_path], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 2
    manifest.write_text(
        json.dumps({"output": [{"type": "Patient", "url": "https://x/y/Gone.ndjson"}]})
    )
    with pytest.raises(IngestError, match="listed file Gone.ndjson does not exist"):
        ingest([tmp_path], warehouse, progress=False)
