"""Issue 20, the ingest half: bytes the engine cannot read, lenient JSON, values their FHIR
type cannot hold, leap seconds, Bundle entries that are not resources, gzip by content. Every
case asserts the ingest contract: each line is loaded or quarantined with its true line number,
and the run's counts add up to the input's lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ingest_helpers import assert_adds_up, quarantine_reasons, rows, write_lines

from cmo.fhir.ingest import ingest


def _patient(i: int, **extra: object) -> bytes:
    doc = {"resourceType": "Patient", "id": f"p{i}", "gender": "female", **extra}
    return json.dumps(doc).encode()


def test_invalid_utf8_in_the_first_file_of_a_type(warehouse, tmp_path: Path) -> None:
    """Was: CatalogException `_cmo_stage__patient does not exist`, nothing loaded."""
    a = [_patient(i) for i in range(20)]
    a[2] = a[2].replace(b'"female"', b'"fem\xffale"')  # line 3
    b = [_patient(100 + i) for i in range(20)]
    fa = write_lines(tmp_path / "Patient.1.ndjson", a)
    fb = write_lines(tmp_path / "Patient.2.ndjson", b)
    result = ingest([fa, fb], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 39
    assert quarantine_reasons(warehouse) == {
        ("Patient.1.ndjson", 3): "invalid UTF-8 at byte 55 of the line"
    }
    assert_adds_up(result, 40)


def test_invalid_utf8_in_a_later_file_quarantines_only_that_line(warehouse, tmp_path) -> None:
    """Was: the whole later file became one quarantine row without a line, exit 0."""
    a = [_patient(i) for i in range(20)]
    b = [_patient(100 + i) for i in range(20)]
    b[6] = b[6] + b"\xc3"  # line 7: a truncated two-byte sequence
    fa = write_lines(tmp_path / "Patient.1.ndjson", a)
    fb = write_lines(tmp_path / "Patient.2.ndjson", b)
    result = ingest([fa, fb], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 39
    q = quarantine_reasons(warehouse)
    assert list(q) == [("Patient.2.ndjson", 7)] and q[("Patient.2.ndjson", 7)].startswith(
        "invalid UTF-8"
    )
    got = rows(warehouse, "SELECT id, source_line FROM fhir__patient WHERE id = 'p119'")
    assert got == [("p119", 20)]
    assert_adds_up(result, 40)


def test_raw_carriage_return_is_whitespace_not_a_line_end(warehouse, tmp_path: Path) -> None:
    lines = [_patient(i) for i in range(10)]
    lines[3] = b'{"resourceType": "Patient",\r"id": "p3"}'  # valid JSON: \r is whitespace
    lines[5] = b"not json\rat all"  # one bad line, not two
    lines[8] = lines[8] + b"\r"  # a \r\n ending
    f = write_lines(tmp_path / "Patient.ndjson", lines)
    result = ingest([f], warehouse, progress=False)
    assert quarantine_reasons(warehouse) == {("Patient.ndjson", 6): "invalid JSON"}
    got = dict(rows(warehouse, "SELECT id, source_line FROM fhir__patient"))
    assert got == {f"p{i}": i + 1 for i in range(10) if i != 5}
    assert_adds_up(result, 10)


def test_lenient_json_is_quarantined(warehouse, tmp_path: Path) -> None:
    lines = [
        b'{"resourceType": "Patient", "id": "a", "gender": "male",}',
        b'{"resourceType": "Patient", "id": "b", "name": [{"given": ["x",]}]}',
        b'{"resourceType": "Observation", "id": "c", "valueQuantity": {"value": NaN}}',
        b'{"resourceType": "Observation", "id": "d", "x": -Infinity}',
        b'{"resourceType": "Observation", "id": "e", "x": [1, NaN]}',
        b'{"resourceType": "Patient", "id": "ok", "text": {"div": "Occupation: Infant, x,]"}}',
        # Any case of nan / inf where the warehouse reads a number: its type check.
        b'{"resourceType": "Observation", "id": "f", "valueQuantity": {"value": inf}}',
    ]
    f = write_lines(tmp_path / "mixed.ndjson", lines)
    result = ingest([f], warehouse, progress=False)
    want = {("mixed.ndjson", n): "invalid JSON" for n in range(1, 6)}
    want[("mixed.ndjson", 7)] = "valueQuantity.value: expected decimal, got inf"
    assert quarantine_reasons(warehouse) == want
    assert rows(warehouse, "SELECT id FROM fhir__patient") == [("ok",)]
    assert_adds_up(result, 7)


@pytest.mark.parametrize(
    ("element", "value", "reason"),
    [
        ("valueInteger", "2.5", "valueInteger: expected integer, got 2.5"),
        ("valueInteger", "2.0", "valueInteger: expected integer, got 2.0"),
        ("valueInteger", "3000000000", "valueInteger: expected integer, got 3000000000"),
        ("valueBoolean", '"yes"', 'valueBoolean: expected boolean, got "yes"'),
        ("valueBoolean", '"Y"', 'valueBoolean: expected boolean, got "Y"'),
        ("valueBoolean", '"t"', 'valueBoolean: expected boolean, got "t"'),
        ("valueBoolean", "2", "valueBoolean: expected boolean, got 2"),
        ("valueQuantity", '{"value": 1e400}', "valueQuantity.value: expected decimal, got 1e400"),
        ("valueQuantity", '{"value": "98.6"}', 'valueQuantity.value: expected decimal, got "98.6"'),
        (
            "component",
            '[{"valueQuantity": {"value": 1}}, {"valueQuantity": {"value": true}}]',
            "component[1].valueQuantity.value: expected decimal, got true",
        ),
    ],
)
def test_a_value_its_fhir_type_cannot_hold_is_quarantined_with_its_path(
    warehouse, tmp_path: Path, element: str, value: str, reason: str
) -> None:
    good = b'{"resourceType": "Observation", "id": "o1", "valueInteger": 7, "valueBoolean": false}'
    bad = f'{{"resourceType": "Observation", "id": "o2", "{element}": {value}}}'.encode()
    f = write_lines(tmp_path / "Observation.ndjson", [good, bad])
    result = ingest([f], warehouse, progress=False)
    assert quarantine_reasons(warehouse) == {("Observation.ndjson", 2): reason}
    assert rows(warehouse, "SELECT id, value_integer, value_boolean FROM fhir__observation") == [
        ("o1", 7, False)
    ]
    assert_adds_up(result, 2)


@pytest.mark.parametrize("rt", ["5", '""', "true", '["Patient"]', '"patient"'])
def test_a_resource_type_that_is_not_a_name_is_quarantined(warehouse, tmp_path, rt) -> None:
    f = write_lines(
        tmp_path / "x.ndjson", [_patient(1), f'{{"resourceType": {rt}, "id": "z"}}'.encode()]
    )
    result = ingest([f], warehouse, progress=False)
    assert quarantine_reasons(warehouse) == {
        ("x.ndjson", 2): f"resourceType: expected a resource type name, got {rt}"
    }
    assert result.other_types == {}
    assert_adds_up(result, 2)


def test_leap_second_orders_within_a_run_and_across_runs(warehouse, tmp_path: Path) -> None:
    def version(gender: str, instant: str) -> bytes:
        return _patient(1, gender=gender, meta={"lastUpdated": instant})

    leap, before = "2016-12-31T23:59:60Z", "2016-12-31T23:59:59.5Z"
    # Within a run: the leap-second version is later in time though earlier in the file.
    f = write_lines(tmp_path / "Patient.ndjson", [version("male", leap), version("female", before)])
    ingest([f], warehouse, progress=False)
    assert rows(warehouse, "SELECT gender, last_updated_ts FROM fhir__patient")[0][0] == "male"
    # Across runs: an older version does not replace it.
    (tmp_path / "b").mkdir()
    g = write_lines(tmp_path / "b" / "Patient.ndjson", [version("other", before)])
    ingest([g], warehouse, progress=False)
    assert rows(warehouse, "SELECT gender FROM fhir__patient") == [("male",)]
    # A version after the leap second wins.
    h = write_lines(tmp_path / "b" / "Patient.ndjson", [version("unknown", "2017-01-01T00:00:00Z")])
    ingest([h], warehouse, progress=False)
    assert rows(warehouse, "SELECT gender FROM fhir__patient") == [("unknown",)]


def test_bundle_entries_that_are_not_resources_are_quarantined_with_their_position(
    warehouse, tmp_path: Path
) -> None:
    p = {"resourceType": "Patient", "id": "p1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": p}, 7, {"resource": "x"}, {"fullUrl": "urn:uuid:1"}, None],
    }
    f = tmp_path / "bundle.json"
    f.write_text(json.dumps(bundle))
    result = ingest([f], warehouse, progress=False)
    assert quarantine_reasons(warehouse) == {
        ("bundle.json", 2): "Bundle.entry[1]: not an entry object, got number",
        ("bundle.json", 3): "Bundle.entry[2].resource: not a resource, got string",
        ("bundle.json", 5): "Bundle.entry[4]: not an entry object, got null",
    }
    assert warehouse.count("fhir__patient") == 1
    assert_adds_up(result, 5)  # the entry without a resource is a blank line


def test_overlong_line_and_another_bad_line_in_one_file(warehouse, tmp_path: Path) -> None:
    huge = b'{"resourceType": "Patient", "id": "big", "x": "' + b"a" * (33 * 2**20) + b'"}'
    f = write_lines(tmp_path / "Patient.ndjson", [_patient(1), huge, b"{oops", _patient(2)])
    result = ingest([f], warehouse, progress=False)
    q = quarantine_reasons(warehouse)
    assert q[("Patient.ndjson", 3)] == "invalid JSON"
    assert q[("Patient.ndjson", 2)].startswith("line longer than 32 MB")
    assert sorted(r[0] for r in rows(warehouse, "SELECT id FROM fhir__patient")) == ["p1", "p2"]
    assert_adds_up(result, 4)


def test_gzip_named_ndjson_is_read_as_gzip(warehouse, tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson"
    f.write_bytes(gzip.compress(b"\n".join(_patient(i) for i in range(5)) + b"\nbad\n"))
    result = ingest([f], warehouse, progress=False)
    assert warehouse.count("fhir__patient") == 5
    assert quarantine_reasons(warehouse) == {("Patient.ndjson", 6): "invalid JSON"}
    assert_adds_up(result, 6)
