"""Frozen, versioned reference models, out-of-time validation and ICU mortality among ICUs.

On the small demo system (2,000 patients, 24 months, seed 7), ingested once and copied per
test: the first build fits and stores a model per risk-adjusted measure; later builds score with
the stored one, so new months of data do not move last year's expected values; ``cmo measures
model refit`` stores a new version and keeps the old; a stale spec stops ``cmo measures run``;
the model card carries out-of-time validation; IMORT's ICU unit rows are scored by the ICU model.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cmo.measures import api, icu, reference, risk

pytestmark = pytest.mark.slow

RISK = ("IMORT", "MORT30", "READM30")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo export ingested into a DuckDB file (not built)."""
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.warehouse import connect

    root = tmp_path_factory.mktemp("refmodel")
    export = generate(
        root / "fhir", patients=2000, seed=7, start=date(2023, 1, 1), months=24, progress=False
    )
    path = root / "ingested.duckdb"
    wh = connect(path)
    try:
        ingest([export], wh, progress=False)
    finally:
        wh.close()
    return path


@pytest.fixture
def fresh(ingested: Path, tmp_path: Path) -> Iterator[Any]:
    """A copy of the ingested warehouse for one test."""
    from cmo.warehouse import connect

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(ingested, path)
    wh = connect(path)
    yield wh
    wh.close()


def _expected(wh: Any) -> pd.DataFrame:
    t = wh.table("quality__measure_long")
    t = t.filter(t.in_population & ~t.excluded & t.expected.notnull())
    return t.select("measure_id", "stay_id", "discharge_date", "expected").to_pandas()


def test_first_build_stores_a_model_and_later_months_do_not_move_last_years_expected(fresh):
    """Given 12 months of data, when the first build runs, then each risk model is fitted on
    those months and stored as version 1 (and the build says so); when 12 more months arrive
    and the build runs again, then it scores with the stored version 1 (no new version) and
    every 2023 stay keeps its expected value to the last bit, whereas a model refitted on all
    24 months would have moved them."""
    from cmo.measures.build import run

    first = run(fresh, as_of=date(2023, 12, 31), progress=False)
    stored = reference.versions(fresh)
    assert {*RISK, icu.KEY} <= set(stored["measure_id"])  # and the PSIs' and COMPL's models
    assert (stored["version"] == 1).all()
    assert (stored["window_start"] == date(2023, 1, 1)).all()
    assert (stored["window_end"] == date(2023, 12, 31)).all()
    assert any("first build" in n and "version 1" in n for n in first.notes)
    before = _expected(fresh)

    second = run(fresh, progress=False)  # 24 months now
    # Nothing new stored for the models fitted on the first 12 months (a rare-event PSI with
    # no event then gets its first model now).
    again = reference.versions(fresh)
    kept = again[again["measure_id"].isin(set(stored["measure_id"]))]
    assert len(kept) == len(stored) and (kept["version"] == 1).all()
    assert any("scored with stored reference model version 1" in n for n in second.notes)
    after = _expected(fresh)
    # The frozen models' measures (NHSN's internal baseline is a pooled rate, not a model).
    before, after = (x[x["measure_id"].isin(RISK)] for x in (before, after))
    both = before.merge(after, on=["measure_id", "stay_id"], suffixes=("_1", "_2"))
    in_2023 = both[pd.to_datetime(both["discharge_date_1"]) <= "2023-12-31"]
    assert len(in_2023) > 500
    assert np.array_equal(in_2023["expected_1"].to_numpy(), in_2023["expected_2"].to_numpy())

    # The contrast: an in-sample fit on all 24 months gives other 2023 expected values.
    run(fresh, refit=["IMORT"], reference=(date(2023, 1, 1), date(2024, 12, 31)), progress=False)
    refit = _expected(fresh)
    imort = in_2023[in_2023["measure_id"] == "IMORT"].merge(
        refit[refit["measure_id"] == "IMORT"], on=["measure_id", "stay_id"]
    )
    assert not np.allclose(imort["expected_1"], imort["expected"], rtol=1e-6, atol=0)


def test_card_has_out_of_time_validation_on_the_later_data(fresh):
    """Given a model frozen on 2023, when 2024 is scored, then the card holds the model's
    identity and out-of-time n, C-statistic, calibration slope and intercept (with CIs) and a
    decile table with its chart on the 2024 stays, next to the existing keys."""
    from cmo.measures.build import run

    run(fresh, reference=(date(2023, 1, 1), date(2023, 12, 31)), progress=False)
    card = api.model_card(fresh, "READM30")
    assert card is not None
    for key in ("n", "events", "c_statistic", "calibration", "calibration_chart", "model"):
        assert key in card  # the keys the pages and the CLI read keep working
    assert card["model_version"] == 1 and len(card["model_hash"]) == 64
    assert (card["window_start"], card["window_end"]) == ("2023-01-01", "2023-12-31")
    oot = card["out_of_time"]
    assert oot["n"] > 200 and oot["period_start"] >= "2024-01-01"
    assert 0.5 < oot["c_statistic"] < 1
    assert oot["slope_low"] < oot["slope"] < oot["slope_high"]
    assert oot["intercept_low"] < oot["intercept"] < oot["intercept_high"]
    assert sum(d["n"] for d in oot["calibration"]) == oot["n"]
    assert oot["calibration_chart"]["layer"][1]["data"]["values"] == oot["calibration"]
    dev = card["development"]
    assert dev["n"] + oot["n"] == card["n"]
    # In its own window a logistic model with an intercept is calibrated in the large.
    assert dev["oe"] == pytest.approx(1.0, abs=0.02)
    assert dev["intercept"] == pytest.approx(0.0, abs=0.05)
    json.dumps({k: v for k, v in card.items() if k != "built_at"})  # plain JSON, as stored


def test_refit_stores_a_new_version_and_keeps_the_old(fresh):
    """Given a build with stored version 1, when `cmo measures model refit --measure IMORT
    --window ...` runs, then IMORT and its ICU model get version 2 on that window, version 1
    is kept, the other measures stay at version 1, `model list` marks version 2 as in use and
    the next build scores IMORT with version 2."""
    from typer.testing import CliRunner

    from cmo.cli import app
    from cmo.measures.build import run

    run(fresh, as_of=date(2023, 12, 31), progress=False)
    path = str(fresh.path)
    fresh.close()
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "measures", "model", "refit", "--measure", "IMORT",
            "--window", "2023-01-01:2024-06-30", "--warehouse", path, "--no-sync",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "refit: fitted reference model version 2" in res.output
    res = runner.invoke(app, ["measures", "model", "list", "--warehouse", path])
    assert res.exit_code == 0, res.output
    lines = [ln.split() for ln in res.output.splitlines() if ln.startswith(("IMORT", "MORT30"))]
    assert lines[0][:2] == ["IMORT", "1"] and lines[1][:2] == ["IMORT", "2*"]
    assert any(ln[:2] == ["MORT30", "1*"] for ln in lines)
    res = runner.invoke(app, ["measures", "model", "IMORT", "--warehouse", path])
    assert res.exit_code == 0 and "reference model version 2" in res.output
    assert "out of time (2024-07-01" in res.output
    res = runner.invoke(app, ["measures", "model", "refit", "--window", "2024-01-01:2023-01-01",
                              "--warehouse", path])  # fmt: skip
    assert res.exit_code == 2 and "ends before it starts" in res.output
    res = runner.invoke(app, ["measures", "model", "refit", "--measure", "LOS",
                              "--warehouse", path])  # fmt: skip
    assert res.exit_code == 2 and "no risk model" in res.output

    from cmo.warehouse import connect

    with connect(path) as wh:
        versions = reference.versions(wh)
        imort = versions[versions["measure_id"] == "IMORT"]
        assert list(imort["version"]) == [1, 2]
        assert imort.iloc[1]["window_end"] == date(2024, 6, 30)
        assert list(versions[versions["measure_id"] == "MORT30"]["version"]) == [1]
        assert list(versions[versions["measure_id"] == icu.KEY]["version"]) == [1, 2]
        result = run(wh, progress=False)
        assert result.models["IMORT"]["model_version"] == 2


def test_a_changed_spec_makes_the_stored_model_stale(fresh):
    """Given a stored model whose spec hash no longer matches the code (a changed measure spec
    or covariate set), when `cmo measures run` runs, then it stops with a one-line message that
    says to refit, and a programmatic build with on_stale="refit" stores a new version."""
    import subprocess
    import sys

    import ibis

    from cmo.measures.build import run

    run(fresh, progress=False)
    t = fresh.table(reference.TABLE)
    stale = t.mutate(
        spec_hash=ibis.cases((t.measure_id == "READM30", ibis.literal("0" * 64)),
                             else_=t.spec_hash),
        model_json=t.model_json.re_replace(r'"spec_hash": "[0-9a-f]+"', '"spec_hash": "old"'),
    ).to_pandas()  # fmt: skip
    stale["model_json"] = [
        j if m == "READM30" else json.dumps({**json.loads(j), "spec_hash": s})
        for m, j, s in zip(stale["measure_id"], stale["model_json"], t.to_pandas()["spec_hash"],
                           strict=True)
    ]  # fmt: skip
    fresh.write(reference.TABLE, ibis.memtable(stale, schema=ibis.schema(reference.SCHEMA)))
    path = str(fresh.path)
    fresh.close()
    out = subprocess.run(
        [sys.executable, "-c", "from cmo.cli import run; run()", "measures", "run",
         "--warehouse", path, "--no-sync"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "READM30 (version 1)" in out.stderr and "cmo measures model refit" in out.stderr
    from cmo.warehouse import connect

    with connect(path) as wh:
        result = run(wh, progress=False)  # on_stale="refit"
        assert result.models["READM30"]["model_version"] == 2
        assert result.models["IMORT"]["model_version"] == 1
        assert any("spec or covariates changed" in n for n in result.notes)


def test_icu_units_are_scored_by_the_icu_model(fresh):
    """Given stays with ICU time, when the build runs, then an ICU model is fitted on them with
    severity markers from FHIR (ventilation at least), IMORT's unit rows of each ICU carry that
    model's expected deaths, and over the fitting window the ICUs together have O/E 1 (a
    logistic model with an intercept reproduces its events), while wards keep the hospital-wide
    model."""
    from cmo.measures.build import run

    result = run(fresh, progress=False)
    model = result.models[icu.KEY]
    assert "ventilated" in model["extras"]
    assert "ventilated" in risk.EXTRA_LABELS
    card = api.model_card(fresh, icu.KEY)
    assert card is not None and card["development"]["n"] == model["n_fit"]
    res = fresh.table("quality__measure_result").to_pandas()
    units = set(icu.icu_units(_ctx(fresh)))
    assert units
    rows = res[
        (res.measure_id == "IMORT")
        & (res.level == "unit")
        & (res.period_type == "year")
        & res.unit_id.isin(units)
    ]
    assert len(rows) >= len(units)
    # Every year row of an ICU: expected = the ICU model's probabilities of its stays.
    frame = icu.icu_frame(
        _ctx(fresh), fresh.table("quality__measure_long"), sorted(units), _scoring(fresh)
    )
    scored = icu.score(frame, model)
    scored = scored[~scored["excluded"].astype(bool)]
    year = pd.to_datetime(scored["period_month"]).dt.year
    for row in rows.itertuples():
        mine = scored[(scored.unit_id == row.unit_id) & (year == row.period_start.year)]
        assert row.expected == pytest.approx(mine["expected"].sum(), rel=1e-9)
        assert row.denominator == len(mine)
    pooled = rows.groupby("period_type")[["numerator", "expected"]].sum().iloc[0]
    assert pooled["numerator"] / pooled["expected"] == pytest.approx(1.0, abs=0.02)
    wards = res[(res.measure_id == "IMORT") & (res.level == "unit") & ~res.unit_id.isin(units)]
    assert len(wards) > 0


def _ctx(wh: Any) -> Any:
    from cmo.measures.spec import Context

    return Context(
        wh=wh,
        stays=wh.table("core__inpatient_stay"),
        comorbidity=wh.table("core__comorbidity"),
        drg=wh.table("core__drg"),
        procedures=wh.table("core__stay_procedure"),
        data_end=date(2024, 12, 31),
    )


def _scoring(wh: Any) -> Any:
    from cmo.measures.build import _scoring_table

    return _scoring_table(_ctx(wh))


def test_calibration_slope_and_intercept_recover_known_miscalibration():
    """Given outcomes drawn from logit p = 0.5 + 0.7 * lp, when the predictions p0 = expit(lp)
    are validated, then the calibration slope is 0.7 and, with lp as offset, the intercept is
    the log of the odds shift that calibration-in-the-large needs (Cox 1958; Steyerberg 2019)."""
    rng = np.random.default_rng(3)
    lp = rng.normal(-2.0, 1.0, 200_000)
    y = (rng.random(len(lp)) < 1 / (1 + np.exp(-(0.5 + 0.7 * lp)))).astype(float)
    fit = risk.calibration_fit(y, 1 / (1 + np.exp(-lp)))
    assert fit["slope"] == pytest.approx(0.7, abs=0.02)
    assert fit["slope_low"] < 0.7 < fit["slope_high"]
    # Perfect predictions: slope 1, intercept 0.
    y2 = (rng.random(len(lp)) < 1 / (1 + np.exp(-lp))).astype(float)
    ok = risk.calibration_fit(y2, 1 / (1 + np.exp(-lp)))
    assert ok["slope"] == pytest.approx(1.0, abs=0.03)
    assert ok["intercept"] == pytest.approx(0.0, abs=0.03)
    assert risk.calibration_fit(np.zeros(10), np.full(10, 0.1))["slope"] is None


def test_default_window_is_the_first_24_complete_months():
    import ibis

    stays = ibis.memtable({"discharge_date": [date(2022, 3, 5), date(2025, 8, 1)]})
    assert reference.default_window(stays, date(2025, 8, 10)) == (
        date(2022, 3, 1),
        date(2024, 2, 29),
    )
    # Fewer complete months: up to the end of the last complete month.
    assert reference.default_window(stays, date(2023, 1, 15)) == (
        date(2022, 3, 1),
        date(2022, 12, 31),
    )
    assert reference.default_window(stays, date(2022, 3, 20)) == (
        date(2022, 3, 1),
        date(2022, 3, 20),
    )
