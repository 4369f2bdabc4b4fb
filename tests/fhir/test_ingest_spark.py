"""--engine spark gives the same tables and rows as DuckDB, and the same quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cmo.fhir.ingest import ingest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _bad_lines(path: Path) -> Path:
    many = [
        json.dumps({"resourceType": "Patient", "id": f"bulk{i}", "gender": "other"})
        for i in range(300)
    ]
    lines = [
        *many[:150],
        json.dumps({"resourceType": "Patient", "id": "p-extra", "birthDate": "1999-12-31"}),
        '{"resourceType": "Patient", "id": ',
        json.dumps({"resourceType": "Patient", "gender": "male"}),
        json.dumps({"resourceType": "Observation", "id": "o-x", "valueQuantity": {"value": "x"}}),
        json.dumps({"resourceType": "Encounter", "id": "e-x", "period": []}),
    ]
    path.write_text("\n".join([*lines, *many[150:]]) + "\n")
    return path


def _frame(wh, table: str) -> pd.DataFrame:
    df = wh.table(table).to_pandas()
    if table == "fhir__quarantine":
        df = df.drop(columns="run_id")  # a run's own id differs between the two runs
    df = df.sort_values(list(df.columns[:3])).reset_index(drop=True)
    return df.astype(object).where(df.notna(), None)


def test_spark_and_duckdb_give_the_same_tables(spark_wh, warehouse, edge_dir, tmp_path) -> None:
    paths = [edge_dir, _bad_lines(tmp_path / "extra.ndjson")]
    duck = ingest(paths, warehouse, progress=False)
    spark = ingest(paths, spark_wh, progress=False)

    assert spark.rows == duck.rows
    assert (spark.quarantined, spark.other_types) == (duck.quarantined, duck.other_types) == (
        4, {},
    )  # fmt: skip
    tables = [t for t in warehouse.list_tables("fhir") if t != "fhir__ingest_run"]
    assert set(tables) <= set(spark_wh.list_tables("fhir"))
    for table in tables:
        d, s = _frame(warehouse, table), _frame(spark_wh, table)
        assert list(s.columns) == list(d.columns), table
        pd.testing.assert_frame_equal(s, d, check_dtype=False, obj=table)
    assert len(_frame(spark_wh, "fhir__patient")) == 305
    assert set(_frame(spark_wh, "fhir__quarantine")["line"]) == {152, 153, 154, 155}
    runs = spark_wh.table("fhir__ingest_run").to_pandas()
    assert list(runs["engine"]) == ["spark"]
