"""Issue 20 on --engine spark: the same ingest contract as on DuckDB. Lines split on ``\\n``
only (a raw ``\\r`` is JSON whitespace, a ``\\r\\n`` ending is stripped), bytes that are not
UTF-8 and lenient JSON quarantined with their true line numbers (Spark's text reader would
replace the bytes and Jackson would take some leniencies), values their FHIR type cannot hold
quarantined with the element's path, and counts that add up to the input's lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_helpers import assert_adds_up, quarantine_reasons, write_lines

from cmo.fhir.ingest import ingest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _patient(i: int) -> bytes:
    return json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "female"}).encode()


def test_bytes_and_line_ends_spark_must_not_read_as_is(spark_wh, tmp_path: Path) -> None:
    lines = [_patient(i) for i in range(12)]
    lines[3] = b'{"resourceType": "Patient",\r"id": "p3"}'  # valid JSON: \r is whitespace
    lines[5] = b"not json\rat all"  # one bad line, not two
    lines[7] = lines[7].replace(b'"female"', b'"fem\xffale"')  # not UTF-8
    lines[8] = lines[8] + b"\r"  # a \r\n ending
    lines[10] = b'{"resourceType": "Patient", "id": "p10", "gender": "male",}'  # lenient
    f = write_lines(tmp_path / "Patient.ndjson", [*lines, b""])  # and a blank line at the end
    result = ingest([f], spark_wh, progress=False)
    assert quarantine_reasons(spark_wh) == {
        ("Patient.ndjson", 6): "invalid JSON",
        ("Patient.ndjson", 8): "invalid UTF-8 at byte 55 of the line",
        ("Patient.ndjson", 11): "invalid JSON",
    }
    got = spark_wh.table("fhir__patient").select("id", "source_line").to_pandas()
    assert dict(zip(got.id, got.source_line, strict=True)) == {
        f"p{i}": i + 1 for i in range(12) if i not in (5, 7, 10)
    }
    assert_adds_up(result, 13)
    assert (result.counts.loaded, result.counts.quarantined, result.counts.blank) == (9, 3, 1)


@pytest.mark.parametrize(
    ("element", "value", "reason"),
    [
        ("valueInteger", "2.5", "valueInteger: expected integer, got 2.5"),
        ("valueBoolean", '"yes"', 'valueBoolean: expected boolean, got "yes"'),
        ("valueQuantity", '{"value": "98.6"}', 'valueQuantity.value: expected decimal, got "98.6"'),
    ],
)
def test_a_value_its_fhir_type_cannot_hold_is_quarantined_on_spark(
    spark_wh, tmp_path: Path, element: str, value: str, reason: str
) -> None:
    good = b'{"resourceType": "Observation", "id": "o1", "valueInteger": 7, "valueBoolean": false}'
    bad = f'{{"resourceType": "Observation", "id": "o2", "{element}": {value}}}'.encode()
    f = write_lines(tmp_path / "Observation.ndjson", [good, bad])
    result = ingest([f], spark_wh, progress=False)
    assert quarantine_reasons(spark_wh) == {("Observation.ndjson", 2): reason}
    assert spark_wh.table("fhir__observation").to_pandas().id.tolist() == ["o1"]
    assert_adds_up(result, 2)


def test_a_second_version_counts_as_superseded(spark_wh, tmp_path: Path) -> None:
    old = (
        b'{"resourceType": "Patient", "id": "p1", "meta": {"lastUpdated": "2024-01-01T00:00:00Z"}}'
    )
    new = (
        b'{"resourceType": "Patient", "id": "p1", "meta": {"lastUpdated": "2024-02-01T00:00:00Z"}}'
    )
    other = b'{"resourceType": "Basic", "id": "b1"}'
    f = write_lines(tmp_path / "Patient.ndjson", [old, new, other])
    result = ingest([f], spark_wh, progress=False)
    c = result.counts
    assert c is not None and (c.loaded, c.superseded, c.other) == (1, 1, 1)
    assert_adds_up(result, 3)
