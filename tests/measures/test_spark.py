"""Portability: the same build on DuckDB and on a local Spark session gives the same rows.

Given the test bed's fhir tables (ingested on DuckDB, copied to Spark through Parquet so both
engines read identical input) and the models fitted once on DuckDB, when the build runs on
Spark, then the core tables, quality__measure_long and quality__measure_result equal the
DuckDB ones (1e-9 on model columns), and so do the model cards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmo.measures import api
from cmo.measures.core import FHIR_SCHEMAS

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _copy_fhir(duck, spark, folder):
    # Through Parquet: Warehouse.write on Spark (Arrow -> Ibis memtable) nulls every value of an
    # int64 column that has some nulls (seen on fhir__encounter_diagnosis.rank).
    for name in duck.list_tables("fhir"):
        if name not in FHIR_SCHEMAS:
            continue
        path = folder / f"{name}.parquet"
        duck.con.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        spark.spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark.spark.read.parquet(str(path)).write.saveAsTable(name)


def _frame(wh, name, keys):
    frame = wh.table(name).to_pandas().sort_values(keys).reset_index(drop=True)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(
                lambda v: sorted(v) if isinstance(v, list | np.ndarray) else v
            )
    return frame


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]) or pd.api.types.is_float_dtype(b[col]):
            np.testing.assert_allclose(
                a[col].astype(float), b[col].astype(float), rtol=0, atol=1e-9, err_msg=col
            )
        elif pd.api.types.is_datetime64_any_dtype(a[col]) or pd.api.types.is_datetime64_any_dtype(
            b[col]
        ):
            assert (
                pd.to_datetime(a[col]).fillna(pd.Timestamp(0))
                == pd.to_datetime(b[col]).fillna(pd.Timestamp(0))
            ).all(), col
        else:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col


def test_spark_build_equals_duckdb_build(built, spark_warehouse, tmp_path):
    from cmo.measures.build import run

    models = {m: api.model_card(built, m)["model"] for m in ("IMORT", "MORT30", "READM30")}
    _copy_fhir(built, spark_warehouse, tmp_path)
    result = run(spark_warehouse, models=models, progress=False)
    assert result.rows["core__inpatient_stay"] == 58
    for name, keys in (
        ("core__inpatient_stay", ["stay_id"]),
        ("core__stay_diagnosis", ["stay_id", "code"]),
        ("core__comorbidity", ["stay_id"]),
        ("core__drg", ["stay_id"]),
        ("core__stay_unit", ["stay_id", "unit_id"]),
        # NHSN rows are one per stay x unit x month (Measure.located).
        ("quality__measure_long", ["measure_id", "stay_id", "unit_id", "period_month"]),
        (
            "quality__measure_result",
            ["measure_id", "period_type", "period_start", "level", "unit_id"],
        ),
    ):
        _same(_frame(built, name, keys), _frame(spark_warehouse, name, keys))
    # quality__data_issue (written by the build after the core step) is the same on both.
    from cmo.measures import data_quality

    keys = ["issue", "site_id", "stay_id", "code"]
    duck_dq = data_quality.issues(built).to_pandas().sort_values(keys).reset_index(drop=True)
    spark_dq = (
        data_quality.issues(spark_warehouse).to_pandas().sort_values(keys).reset_index(drop=True)
    )
    _same(duck_dq, spark_dq)
    # The model cards are read back unordered: the same cards on both engines.
    for m in models:
        duck_card, spark_card = api.model_card(built, m), api.model_card(spark_warehouse, m)
        assert [d["n"] for d in spark_card["calibration"]] == [
            d["n"] for d in duck_card["calibration"]
        ]
        assert spark_card["c_statistic"] == pytest.approx(duck_card["c_statistic"], abs=1e-12)
