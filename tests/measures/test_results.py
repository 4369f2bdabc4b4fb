"""Results, signals, the read API, exports and the CLI, on the shared test bed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from cmo.measures import api
from cmo.stats.intervals import poisson_oe, sum_oe


@pytest.fixture
def bed_copy(built, tmp_path):
    """A private copy of the built test-bed warehouse, for tests that rebuild or reopen it."""
    import shutil

    from cmo.warehouse import connect

    built.sql("CHECKPOINT")
    path = tmp_path / "copy.duckdb"
    shutil.copy(built.path, path)
    wh = connect(path)
    yield wh
    wh.close()


def test_system_results_add_up_from_long_rows(built):
    long = built.table("quality__measure_long").to_pandas()
    res = built.table("quality__measure_result").to_pandas()
    for mid in ("IMORT", "READM30", "LOS"):
        pop = long[(long.measure_id == mid) & long.in_population & ~long.excluded]
        r = res[(res.measure_id == mid) & (res.level == "system") & (res.period_type == "year")]
        assert len(r) == 1
        r = r.iloc[0]
        assert r.denominator == len(pop)
        assert r.numerator == pop.outcome.sum()
        assert r.expected == pytest.approx(pop.expected.sum())
        assert r.oe == pytest.approx(pop.outcome.sum() / pop.expected.sum())
        if mid == "LOS":  # days: the normal interval of a sum, with the days' own variance
            y = pop.outcome.to_numpy(float)
            lo, hi = sum_oe(y.sum(), (y**2).sum(), len(y), r.expected)
        else:
            lo, hi = poisson_oe(r.numerator, r.expected)
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))


def test_levels_and_periods_are_all_present(built):
    res = built.table("quality__measure_result").to_pandas()
    imort = res[res.measure_id == "IMORT"]
    assert set(imort.level) == {"system", "site", "department", "unit", "practitioner"}
    # The rolling windows are kept only when the data cover them (the test bed's months cover
    # 12 but not 24).
    assert set(imort.period_type) == {"month", "quarter", "year", "rolling12"}
    q = imort[(imort.period_type == "quarter") & (imort.level == "system")]
    assert sorted(d.date() for d in q.period_start) == [date(2024, m, 1) for m in (1, 4, 7, 10)]
    site = res[(res.level == "site") & (res.unit_id == "org-h2")].iloc[0]
    assert site.unit_name == "Hospital H2" and site.site_id == "org-h2"
    prac = res[(res.level == "practitioner") & (res.unit_id == "pr-b")].iloc[0]
    assert prac.unit_name == "Beta, Bob"
    # Crude measures carry no O/E.
    assert res[res.measure_id == "LACE"].oe.isna().all()


def test_api_reads_the_contract_tables(built):
    ids = [m["measure_id"] for m in api.list_measures(built)]
    # Every registered measure, in id order (the PSIs and COMPL among them).
    from cmo.measures.spec import registry

    assert ids == sorted(registry())
    assert {"CMI", "IMORT", "LACE", "LOS", "MORT30", "READM30", "PSI90", "COMPL"} <= set(ids)
    rows = api.results(built, "READM30", period_type="year", level="site")
    assert {r["unit_id"] for r in rows} == {"org-h1", "org-h2"}
    assert (
        api.results(built, "READM30", period_type="year", level="site", site_id="org-h2")[0][
            "unit_id"
        ]
        == "org-h2"
    )
    long = api.long_rows(
        built,
        "READM30",
        period_type="month",
        period_start=date(2024, 4, 1),
        level="practitioner",
        unit_id="pr-a",
    )
    assert "s-readm-index" in {r["stay_id"] for r in long}
    assert all(r["period_month"] == date(2024, 4, 1) for r in long)
    card = api.model_card(built, "IMORT")
    assert card is not None and card["measure_id"] == "IMORT" and card["n"] > 0
    assert api.model_card(built, "LACE") is None
    status = api.data_status(built)
    assert status["tables"]["core__inpatient_stay"] == 58
    assert [s["step"] for s in status["build_steps"]][:3] == ["stays", "core", "risk"]
    assert isinstance(api.signals(built), list)


def test_api_on_an_empty_warehouse(warehouse):
    assert api.list_measures(warehouse) == []
    assert api.results(warehouse, "IMORT") == []
    assert api.long_rows(warehouse, "IMORT") == []
    assert api.model_card(warehouse, "IMORT") is None
    assert api.data_status(warehouse)["build_steps"] == []


def test_measure_report_export_is_valid_fhir(built, tmp_path):
    from fhir.resources.R4B.measurereport import MeasureReport

    from cmo.measures.export import export

    (path,) = export(built, "measurereport", tmp_path, measure_id="IMORT")
    reports = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert reports
    for r in reports:
        MeasureReport.model_validate(r)
    year = next(
        r
        for r in reports
        if r["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
        and r["group"][0]["code"]["coding"][0]["system"].endswith("/system")
    )
    pops = {p["code"]["coding"][0]["code"]: p["count"] for p in year["group"][0]["population"]}
    assert pops["denominator"] > pops["numerator"] >= 1
    (csv_path,) = export(built, "csv", tmp_path)
    (pq_path,) = export(built, "parquet", tmp_path)
    assert csv_path.stat().st_size > 0 and pq_path.stat().st_size > 0


def test_cli_run_model_export_and_errors(bed_copy, tmp_path):
    from cmo.cli import app

    runner = CliRunner()
    path = str(bed_copy.path)
    bed_copy.close()  # the CLI opens the file itself
    models = tmp_path / "models.json"
    res = runner.invoke(app, ["measures", "run", "--warehouse", path, "--save-models", str(models)])
    assert res.exit_code == 0, res.output
    assert "58 stays" in res.output
    saved = json.loads(models.read_text())
    assert set(saved) == {"IMORT", "MORT30", "READM30"}
    res = runner.invoke(app, ["measures", "run", "--warehouse", path, "--model-file", str(models)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["measures", "model", "READM30", "--warehouse", path])
    assert res.exit_code == 0 and "C-statistic" in res.output
    res = runner.invoke(app, ["measures", "model", "LACE", "--warehouse", path])
    assert res.exit_code == 2 and "no model card" in res.output
    res = runner.invoke(app, ["measures", "run", "--warehouse", path, "--as-of", "2024-13-01"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["measures", "export", "--warehouse", path, "--format", "xml"])
    assert res.exit_code == 2
    res = runner.invoke(
        app, ["measures", "export", "--warehouse", path, "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 0 and "MeasureReport.ndjson" in res.output
    res = runner.invoke(app, ["measures", "list"])
    assert res.exit_code == 0 and "READM30" in res.output
    empty = tmp_path / "empty.duckdb"
    res = runner.invoke(app, ["measures", "run", "--warehouse", str(empty)])
    assert res.exit_code == 2 and "cmo ingest" in res.output


def test_saved_models_reproduce_expected_exactly(bed_copy):
    """A model passed in is applied as is: the same expected values to the last bit."""
    from cmo.measures.build import run

    wh = bed_copy
    before = wh.table("quality__measure_long").to_pandas().sort_values(["measure_id", "stay_id"])
    cards = {m: api.model_card(wh, m)["model"] for m in ("IMORT", "MORT30", "READM30")}
    run(wh, models=cards, progress=False)
    after = wh.table("quality__measure_long").to_pandas().sort_values(["measure_id", "stay_id"])
    assert np.array_equal(
        before.expected.fillna(-1).to_numpy(), after.expected.fillna(-1).to_numpy()
    )


def test_as_of_moves_the_data_end(bed_copy):
    from cmo.measures.build import run

    result = run(bed_copy, as_of=date(2024, 6, 30), progress=False)
    assert result.data_end == date(2024, 6, 30)
    long = bed_copy.table("quality__measure_long").to_pandas()
    r = long[(long.measure_id == "READM30") & (long.stay_id == "s-readm-back")].iloc[0]
    assert r.exclusion_reason is None  # discharged 2024-04-23, 68 days before the data end
    r = long[(long.measure_id == "READM30") & (long.stay_id == "s-transin")].iloc[0]
    assert r.exclusion_reason == "follow_up_incomplete"  # discharged 2024-06-05
    r = long[(long.measure_id == "IMORT") & (long.stay_id == "s-comorb")].iloc[0]
    assert not r.in_population  # discharged after the data end


def test_cusum_flags_a_site_whose_deaths_exceed_risk(warehouse):
    """Given 60 stays at p = 0.05 where site A has 12 deaths and site B none, when the CUSUM
    runs, then A signals worse (upper chart) and B does not."""
    import ibis
    import pandas as pd

    from cmo.measures.results import cusum_signals
    from cmo.measures.spec import registry

    n = 60
    frame = pd.DataFrame(
        {
            "measure_id": "IMORT",
            "stay_id": [f"s{i:03d}" for i in range(2 * n)],
            "site_id": ["A"] * n + ["B"] * n,
            "discharge_date": [date(2024, 1, 1) + pd.Timedelta(days=i % n) for i in range(2 * n)],
            "in_population": True,
            "excluded": False,
            "outcome": [1.0 if i % 5 == 0 else 0.0 for i in range(n)] + [0.0] * n,
            "expected": 0.05,
        }
    )
    warehouse.write("quality__measure_long", ibis.memtable(frame))
    results = pd.DataFrame(
        {"level": ["site", "site"], "unit_id": ["A", "B"], "unit_name": ["Site A", "Site B"]}
    )
    sig = cusum_signals(warehouse.table("quality__measure_long"), results, registry())
    worse = sig[sig.direction == "worse"]
    assert worse.unit_id.tolist() == ["A"]
    assert (sig.kind == "cusum").all() and "B" not in set(worse.unit_id)


def test_signals_skip_incomplete_periods_and_informational_measures():
    import pandas as pd

    from cmo.measures.results import complete_periods, signals
    from cmo.measures.spec import registry

    frame = pd.DataFrame(
        {
            "period_type": ["month", "month", "quarter", "year"],
            "period_start": [
                date(2024, 11, 1),
                date(2024, 12, 1),
                date(2024, 10, 1),
                date(2024, 1, 1),
            ],
        }
    )
    kept = complete_periods(frame, date(2024, 12, 15))
    assert kept.period_start.tolist() == [date(2024, 11, 1)]  # the only period ended by then
    assert complete_periods(frame, date(2024, 12, 31)).shape[0] == 4
    cmi = pd.DataFrame(
        {
            "measure_id": "CMI",
            "period_type": "month",
            "level": "system",
            "unit_id": "all",
            "unit_name": "All",
            "site_id": None,
            "numerator": [1.0, 1.0, 9.0, 1.0, 1.0],
            "denominator": [1, 1, 1, 1, 1],
            "rate": [1.0, 1.0, 9.0, 1.0, 1.0],
            "expected": None,
            "period_start": [date(2024, m, 1) for m in range(1, 6)],
        }
    )
    assert signals(cmi, registry(), date(2024, 12, 31)).empty


def test_yearly_funnel_signals_are_current_while_their_year_is():
    """``current``: the signal's period reaches into the last three complete months."""
    import pandas as pd

    from cmo.measures.results import mark_current

    signals = pd.DataFrame(
        {
            "kind": ["funnel_99_8", "funnel_95", "sigma", "sigma"],
            "period_start": [
                date(2024, 1, 1),
                date(2023, 1, 1),
                date(2024, 1, 1),
                date(2024, 10, 1),
            ],
        }
    )
    periods = pd.DataFrame(
        {
            "period_type": ["month", "month"],
            "period_start": [date(2024, 12, 1), date(2025, 1, 1)],
            "latest_complete": [True, False],
        }
    )
    assert mark_current(signals, periods)["current"].tolist() == [True, False, False, True]


def test_pages_read_what_the_build_computed(built):
    """quality__period, quality__chart_point and quality__funnel_point follow one definition
    of a complete period, and every signal is read off a stored chart or funnel row."""
    periods = built.table("quality__period").to_pandas()
    end = max(periods.loc[periods["complete"], "period_end"])
    assert (periods.loc[periods["complete"], "period_end"] <= end).all()
    assert periods.groupby("period_type")["latest_complete"].sum().le(1).all()
    points = built.table("quality__chart_point").to_pandas()
    incomplete = set(
        periods.loc[~periods["complete"] & (periods["period_type"] == "month"), "period_start"]
    )
    assert not set(points["period_start"]) & incomplete  # charts hold complete months only
    signals = built.table("quality__signal").to_pandas()
    from cmo.measures.results import funnel_flags, signalled
    from cmo.measures.spec import registry

    keys = ["measure_id", "level", "unit_id", "period_start"]
    loud = [mid for mid, m in registry().items() if signalled(m)]
    eligible = ~points["small_cell"] & points["lookback_complete"]
    flagged = points[points["sigma_signal"] & eligible & points["measure_id"].isin(loud)]
    sigma = signals[signals["kind"] == "sigma"]
    as_set = lambda f: set(map(tuple, f[keys].astype(str).to_numpy()))  # noqa: E731
    assert as_set(sigma) == as_set(flagged)
    # A point outside its limits in a small cell or before the lookback raises nothing (on
    # the test bed's tiny months the probability limits seldom put one outside: a count of 1
    # against 0.2 expected is not beyond Poisson's 99.865% quantile).
    assert not as_set(sigma) & as_set(points[points["sigma_signal"] & ~eligible])
    funnels = built.table("quality__funnel_point").to_pandas()
    outliers = funnels[funnel_flags(funnels) & funnels["measure_id"].isin(loud)]
    assert as_set(signals[signals["kind"].str.startswith("funnel")]) == as_set(outliers)
    assert signals["current"].notna().all()


def test_cli_user_errors_are_one_line(tmp_path: Path) -> None:
    """An unknown measure, and --engine spark without the spark extra, each print one line
    (no traceback) and exit non-zero (issue 12)."""
    import subprocess
    import sys

    def cmo(*args: str, pre: str = "") -> subprocess.CompletedProcess[str]:
        code = pre + "from cmo.cli import run; run()"
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )

    wh = str(tmp_path / "w.duckdb")
    out = cmo("measures", "model", "NOPE", "--warehouse", wh)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines()[0] == "cmo: error: unknown measure 'NOPE'", out.stderr
    assert "IMORT" in out.stderr
    # Without pyspark installed: the import fails as it would without the extra.
    no_spark = "import sys; sys.modules['pyspark'] = None; "
    out = cmo("measures", "run", "--engine", "spark", "--warehouse", wh, pre=no_spark)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.splitlines()[0].startswith("cmo: error: --engine spark needs the optional")
    assert "pip install 'cmo[spark]'" in out.stderr


def test_funnel_windows_shrinkage_and_small_cells_through_the_api(built):
    """Given the built test bed, then funnel rows carry their window and the contract's columns,
    api.funnel reads calendar years by default (the pages' funnel) and a rolling window on
    request, and every proportion's risk-standardised rate lies within 0-1."""
    funnels = built.table("quality__funnel_point").to_pandas()
    assert set(funnels["window"]) <= {"year", "rolling12", "rolling24"}
    for col in ("denominator", "p_value", "q_value", "shrunk_ratio", "small_cell"):
        assert col in funnels.columns
    assert not funnels.loc[funnels["small_cell"], "outlier_95"].any()
    year = funnels[funnels["window"] == "year"].iloc[0]
    rows = api.funnel(
        built, year.measure_id, level=year.level, period_start=year.period_start.date()
    )
    assert rows and all(r.get("window") == "year" for r in rows)
    rolling = funnels[funnels["window"] == "rolling12"]
    if not rolling.empty:
        r = rolling.iloc[0]
        got = api.funnel(built, r.measure_id, level=r.level, window="rolling12")
        assert got and {g.get("window") for g in got} == {"rolling12"}
    results = built.table("quality__measure_result").to_pandas()
    props = results[results["measure_id"].isin(["IMORT", "MORT30", "READM30"])]
    assert props["rsr"].dropna().between(0, 1).all()
    assert results["small_cell"].notna().all()
    lookback = built.table("quality__lookback").to_pandas()
    # Every measure with results has its lookback (a measure with no rows in a small build,
    # e.g. no catheter days, has a lookback and no results).
    assert set(results["measure_id"]) <= set(lookback["measure_id"])
