"""The frozen reference models on Spark: stored by the first build, reused by the next.

Given the test bed's fhir tables copied to a local Spark warehouse (as in test_spark.py), when
the build runs twice on Spark, then the first stores version 1 of each risk model in
quality__reference_model (the same coefficients as the DuckDB build's version 1) and the second
scores with it, storing nothing new and giving the same expected values.
"""

from __future__ import annotations

import numpy as np
import pytest

from cmo.measures import reference

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_build_stores_and_reuses_the_reference_models(built, spark_warehouse, tmp_path):
    from cmo.measures.build import run

    from .test_spark import _copy_fhir

    _copy_fhir(built, spark_warehouse, tmp_path)
    spark_warehouse.con.drop_table(reference.TABLE, force=True)
    try:
        first = run(spark_warehouse, progress=False)
        stored = reference.versions(spark_warehouse)
        assert len(stored) > 0 and (stored["version"] == 1).all()
        duck = reference.load(built)
        for key, model in reference.load(spark_warehouse).items():
            assert model["window_start"] == duck[key]["window_start"]
            assert np.allclose(model["coef"], duck[key]["coef"], rtol=1e-9, atol=1e-12)
        assert any("first build" in n for n in first.notes)
        before = spark_warehouse.table("quality__measure_long").to_pandas()
        second = run(spark_warehouse, progress=False)
        assert len(reference.versions(spark_warehouse)) == len(stored)
        # The hospital-wide models (a rare-event PSI may have notes of its own).
        risk = ("IMORT", "MORT30", "READM30")
        notes = [n for n in second.notes if n.removeprefix("model ").split(":")[0] in risk]
        assert len(notes) == len(risk) and all("scored with stored" in n for n in notes)
        after = spark_warehouse.table("quality__measure_long").to_pandas()
        keys = ["measure_id", "stay_id"]
        before, after = (x[x["measure_id"].isin(risk)] for x in (before, after))
        a = before.sort_values(keys)["expected"].fillna(-1).to_numpy()
        b = after.sort_values(keys)["expected"].fillna(-1).to_numpy()
        assert np.array_equal(a, b)
    finally:
        spark_warehouse.con.drop_table(reference.TABLE, force=True)
