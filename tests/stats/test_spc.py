"""Control and run charts against qicharts2's own test references, and their properties."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from cmo.stats.spc import (
    CHARTS,
    anhoej_limits,
    control_chart,
    i_chart_factors,
    run_chart,
    runs_analysis,
    summary,
)

SPC = "spc_qicharts2"
COMPARED = [
    "y",
    "cl",
    "ucl",
    "lcl",
    "part",
    "n.obs",
    "n.useful",
    "longest.run",
    "longest.run.max",
    "n.crossings",
    "n.crossings.min",
    "runs.signal",
    "sigma.signal",
]
CASE_IDS = [
    "ex_6.3_1",
    "ex_6.3_2",
    "ex_6.4_1",
    "ex_6.4_2",
    "ex_6.5_3",
    "ex_6.5_4",
    "ex_7.1_5",
    "tbl_7.4_1",
    "ex_7.3_3",
    "ex_7.4_1",
    "ex_7.5_1",
    "ex_7.6_1",
]


def _qic_args(r_call: str) -> tuple[str, str, str | None, dict]:
    """Translate the case's exact qic() call: positional x, y, n, then named options."""
    x, y, n = re.match(r"qic\((\w+), (\w+)(?:, (\w+))?,", r_call).groups()  # type: ignore[union-attr]
    if n is not None and n.startswith("notes"):
        n = None
    kw: dict = {"chart": re.search(r"chart='(\w+)'", r_call).group(1)}  # type: ignore[union-attr]
    for key in ("freeze", "part", "multiply"):
        m = re.search(key + r"=(\d+)", r_call)
        if m:
            kw[key] = int(m.group(1))
    m = re.search(r"exclude=c\(([\d,]+)\)", r_call)
    if m:
        kw["exclude"] = [int(v) for v in m.group(1).split(",")]
    return x, y, n, kw


def test_every_case_in_cases_json_is_covered(reference_dir):
    cases = json.loads((reference_dir / SPC / "cases.json").read_text())
    assert sorted(cases) == sorted(CASE_IDS)


@pytest.mark.parametrize("case", CASE_IDS)
def test_reproduces_qicharts2_montgomery_case(reference_dir, case):
    # PUBLISHED: qicharts2's own test references (tests/testthat/*.rds) on Montgomery's tables.
    spec = json.loads((reference_dir / SPC / "cases.json").read_text())[case]
    x, y, n, kw = _qic_args(spec["r_call"])
    data = pd.read_csv(reference_dir / SPC / spec["input"])
    expected = pd.read_csv(reference_dir / SPC / spec["expected"])
    got = control_chart(data[y], data[n] if n else None, x=data[x], **kw)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got["x"].to_numpy(float), expected["x"].to_numpy(float))
    for col in COMPARED:
        np.testing.assert_allclose(
            got[col.replace(".", "_")].to_numpy(float),
            expected[col].to_numpy(float),
            atol=1e-6,
            equal_nan=True,
            err_msg=f"{case}: {col}",
        )


def _hai(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / SPC / "input_hospital_infections.csv", parse_dates=["month"])


def _compare_summary(got: pd.DataFrame, expected: pd.Series) -> None:
    row = got.iloc[0]
    for ours, theirs in [
        ("n_obs", "n.obs"),
        ("n_useful", "n.useful"),
        ("longest_run", "longest.run"),
        ("longest_run_max", "longest.run.max"),
        ("n_crossings", "n.crossings"),
        ("n_crossings_min", "n.crossings.min"),
        ("runs_signal", "runs.signal"),
        ("sigma_signal", "sigma.signal"),
        ("alcl", "aLCL"),
        ("cl", "CL"),
        ("aucl", "aUCL"),
    ]:
        assert float(row[ours]) == pytest.approx(float(expected[theirs]), abs=1e-6), ours


def _u_summary(d: pd.DataFrame, x=None, **kw) -> pd.DataFrame:
    return summary(
        control_chart(d["n"], d["days"], chart="u", x=d["month"] if x is None else x, **kw)
    )


def test_hai_1_overall_u_chart(reference_dir):
    # PUBLISHED: qicharts2 tests/testthat/test_hai.R, qic(month, n, days, chart='u') summary.
    expected = pd.read_csv(reference_dir / SPC / "expected_hai_1_summary.csv").iloc[0]
    _compare_summary(_u_summary(_hai(reference_dir)), expected)


def test_hai_2_by_infection(reference_dir):
    # PUBLISHED: facets = ~ infection.
    expected = pd.read_csv(reference_dir / SPC / "expected_hai_2_summary.csv")
    hai = _hai(reference_dir)
    for _, row in expected.iterrows():
        _compare_summary(_u_summary(hai[hai["infection"] == row["facet1"]]), row)


def test_hai_3_by_hospital_and_infection(reference_dir):
    # PUBLISHED: facets = hospital ~ infection (18 panels).
    expected = pd.read_csv(reference_dir / SPC / "expected_hai_3_summary.csv")
    hai = _hai(reference_dir)
    assert len(expected) == 18
    for _, row in expected.iterrows():
        d = hai[(hai["hospital"] == row["facet1"]) & (hai["infection"] == row["facet2"])]
        _compare_summary(_u_summary(d), row)


def test_hai_4_hospitals_as_categories(reference_dir):
    # PUBLISHED: qic(reorder(hospital, days), n, days, data = last 6 months, facets = ~infection,
    # chart = 'u', multiply = 10000): x is a factor ordered by mean risk days, so dots only.
    expected = pd.read_csv(reference_dir / SPC / "expected_hai_4_summary.csv")
    hai = _hai(reference_dir)
    recent = hai[hai["month"] >= "2016-07-01"]
    order = list(recent.groupby("hospital")["days"].mean().sort_values().index)
    for _, row in expected.iterrows():
        d = recent[recent["infection"] == row["facet1"]]
        x = pd.Series(pd.Categorical(d["hospital"], categories=order, ordered=True))
        got = _u_summary(d, x=x, multiply=10000)
        _compare_summary(got, row)


def test_laney_pprime_nhs_accidents(reference_dir):
    # UNPUBLISHED (computed independently, not an oracle): Laney P' on qicharts2's NHS A&E data.
    ref = pd.read_csv(reference_dir / SPC / "computed_UNPUBLISHED_laney_pprime_nhs_accidents.csv")
    got = control_chart(ref["r"], ref["n"], chart="pprime", x=ref["i"])
    np.testing.assert_allclose(got["y"], ref["p"], atol=1e-6)
    np.testing.assert_allclose(got["cl"], ref["cl"], atol=1e-6)
    np.testing.assert_allclose(got["ucl"], ref["ucl_pprime"], atol=1e-6)
    np.testing.assert_allclose(got["lcl"], ref["lcl_pprime"], atol=1e-6)
    plain = control_chart(ref["r"], ref["n"], chart="p", x=ref["i"])
    np.testing.assert_allclose(plain["ucl"], ref["ucl_p"], atol=1e-6)
    np.testing.assert_allclose(plain["lcl"], ref["lcl_p"], atol=1e-6)
    # With 10-fold overdispersion the P chart flags most months, the P' chart none.
    assert plain["sigma_signal"].sum() > 5 and not got["sigma_signal"].any()


def test_anhoej_critical_values(reference_dir):
    ref = pd.read_csv(reference_dir / SPC / "anhoej_critical_values_10_100.csv")
    got = [anhoej_limits(int(n)) for n in ref["n_useful"]]
    assert [g[0] for g in got] == ref["longest_run_max"].tolist()
    assert [g[1] for g in got] == ref["n_crossings_min"].tolist()


def test_runs_analysis_ignores_points_on_the_median():
    r = runs_analysis([1, 2, 2, 3, 1, 3], [2] * 6)
    assert r["n_useful"] == 4 and r["n_crossings"] == 3 and r["longest_run"] == 1


def test_run_chart_shift_is_a_runs_signal():
    y = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2] + [5, 6, 5, 6, 5, 6, 5, 6, 5, 6]
    d = run_chart(y)
    assert d["cl"].iloc[0] == 3.5 and d["longest_run"].iloc[0] == 10 and d["runs_signal"].all()


def test_g_chart_centre_is_median_and_limits_from_mean():
    y = np.array([3, 10, 25, 7, 1, 40, 12, 5, 9, 18], float)
    d = control_chart(y, chart="g")
    mean = y.mean()
    assert d["cl"].iloc[0] == np.median(y)
    assert d["ucl"].iloc[0] == pytest.approx(mean + 3 * np.sqrt(mean * (mean + 1)))
    assert (d["lcl"] == 0).all()


def test_phase_labels_recalculate_limits():
    y = [10, 12, 11, 13, 12, 30, 31, 29, 32, 30]
    d = control_chart(y, chart="i", part=["before"] * 5 + ["after"] * 5)
    assert d["part"].tolist() == [1] * 5 + [2] * 5
    assert d["cl"].iloc[0] == pytest.approx(11.6) and d["cl"].iloc[-1] == pytest.approx(30.4)


def test_invalid_input():
    with pytest.raises(ValueError, match="unknown chart"):
        control_chart([1, 2], chart="z")
    with pytest.raises(ValueError, match="denominator"):
        control_chart([1, 2], chart="p")
    with pytest.raises(ValueError, match="negative"):
        control_chart([1, -2], chart="c")
    with pytest.raises(ValueError, match="larger"):
        control_chart([3, 2], [2, 2], chart="p")
    with pytest.raises(ValueError, match="greater than zero"):
        control_chart([3, 0, 2], chart="t")


# ----------------------------------------------------------------------- properties

sizes = st.lists(st.integers(min_value=1, max_value=500), min_size=3, max_size=40)


@settings(max_examples=60, deadline=None)
@given(sizes, st.floats(min_value=0.0, max_value=1.0), st.integers(0, 2**31 - 1))
def test_p_limits_stay_within_0_and_1(n, p, seed):
    n_arr = np.array(n)
    x = np.random.default_rng(seed).binomial(n_arr, p)
    for chart in ("p", "pprime"):
        d = control_chart(x, n_arr, chart=chart)
        lim = d[["lcl", "ucl", "lcl_95", "ucl_95"]].to_numpy()
        assert np.all((lim[~np.isnan(lim)] >= 0) & (lim[~np.isnan(lim)] <= 1))


@settings(max_examples=30, deadline=None)
@given(sizes, st.integers(0, 2**31 - 1))
def test_limits_widen_as_n_falls(n, seed):
    n_arr = np.array(n)
    x = np.random.default_rng(seed).binomial(n_arr, 0.3)
    order = np.argsort(n_arr, kind="stable")
    for chart in ("p", "u", "pprime", "uprime"):
        d = control_chart(x, n_arr, chart=chart)
        width = (d["ucl"] - d["lcl"]).to_numpy()[order]
        if np.isnan(width).all():  # p' with no variation between subgroups
            continue
        # Clipping at 0 (and 1) keeps the width monotone in sigma: larger n, narrower limits.
        assert np.all(np.diff(width) <= 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=2, max_size=60),
    st.integers(-1000, 1000),
)
def test_run_chart_rules_invariant_to_adding_a_constant(y, k):
    a = run_chart(np.array(y, float))
    b = run_chart(np.array(y, float) + k)
    cols = ["n_useful", "longest_run", "n_crossings", "runs_signal"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_runs_on_plain_data(chart):
    rng = np.random.default_rng(1)
    y = rng.poisson(8, 24).astype(float) + 1
    n = np.full(24, 40.0)
    x = np.repeat(np.arange(6), 4) if chart in {"xbar", "s"} else None
    d = control_chart(y, n if chart in {"p", "pprime", "u", "uprime"} else None, chart=chart, x=x)
    assert len(d) == (6 if x is not None else 24) and d["cl"].notna().all()
    if chart != "run":
        assert (d["ucl"].dropna() >= d["cl"][d["ucl"].notna()] - 1e-12).all()


def test_text_subgroups_keep_their_order_and_skip_runs_analysis():
    y = [5, 7, 6, 9, 4, 8, 6, 7]
    units = ["ICU", "Ward B", "Ward A", "ED", "ICU", "Ward B", "Ward A", "ED"]
    d = control_chart(y, [50] * 8, chart="u", x=units)
    assert [str(v) for v in d["x"]] == ["ICU", "Ward B", "Ward A", "ED"]
    assert d["y"].tolist() == pytest.approx([9 / 100, 15 / 100, 12 / 100, 16 / 100])
    assert not d["runs_signal"].any()


def test_rows_sharing_x_are_summed_for_rates_and_phase_labels_follow_x():
    x = [3, 1, 2, 1, 2, 3]
    d = control_chart([1, 2, 3, 4, 5, 6], [10] * 6, chart="p", x=x, part=list("bbaabb"))
    assert d["x"].tolist() == [1, 2, 3]
    assert d["y"].tolist() == pytest.approx([6 / 20, 8 / 20, 7 / 20])
    # First label of each subgroup: x=1 "b", x=2 "a", x=3 "b": the label changes twice.
    assert d["part"].tolist() == [1, 2, 3]


def test_freeze_and_exclude_change_only_the_baseline():
    y = np.array([10.0, 11, 9, 10, 12, 30, 31, 29, 30, 31])
    all_points = control_chart(y, chart="c")
    frozen = control_chart(y, chart="c", freeze=5)
    assert frozen["cl"].iloc[0] == pytest.approx(10.4) and all_points["cl"].iloc[0] == 20.3
    assert frozen["sigma_signal"].iloc[5:].all()
    excluded = control_chart(y, chart="c", freeze=5, exclude=[5])
    assert excluded["cl"].iloc[0] == pytest.approx(10.0)
    assert excluded["n_obs"].iloc[0] == 9


# ------------------------------------------------------------------ probability limits


def test_u_chart_probability_limits_are_poisson_quantiles_where_3_sigma_is_wrong():
    # Given a U chart of observed over expected events: 24 months of E = 5 expected events
    # each, 120 observed in all, so the centre line is exactly 1 and a month's count is
    # Poisson(5) when in control.
    expected = np.full(24, 5.0)
    observed = np.full(24, 5.0)
    observed[[0, 1, -1]] = (0, 3, 12)  # the other months at their expectation
    # When it is charted with 3-sigma limits (qicharts2) and with probability limits
    sigma = control_chart(observed, expected, chart="u")
    exact = control_chart(observed, expected, chart="u", limits="probability")
    assert sigma["cl"].iloc[0] == pytest.approx(1.0) and exact["cl"].iloc[0] == pytest.approx(1)
    # Then 3 sigma puts the upper limit at 1 + 3/sqrt(5) = 2.34 (11.7 events) and flags the
    # 12 events of the last month, although a Poisson(5) count reaches 12 with probability
    # 0.55%, four times the 0.135% that 3 sigma states,
    assert sigma["ucl"].iloc[-1] == pytest.approx(1 + 3 / np.sqrt(5))
    assert bool(sigma["sigma_signal"].iloc[-1])
    assert scipy_stats.poisson.sf(11, 5) == pytest.approx(0.0055, abs=0.0001)
    # and the probability limits are the 0.135% and 99.865% quantiles of Poisson(5) over E:
    hi = scipy_stats.poisson.ppf(1 - scipy_stats.norm.sf(3), 5)
    lo = scipy_stats.poisson.ppf(scipy_stats.norm.sf(3), 5)
    assert (hi, lo) == (13, 0)
    assert exact["ucl"].iloc[-1] == pytest.approx(hi / 5)
    assert exact["lcl"].iloc[-1] == pytest.approx(lo / 5)
    # so 12 events are not a signal, 14 would be (P(X >= 14 | 5) < 0.135%).
    assert not exact["sigma_signal"].any()
    assert scipy_stats.poisson.sf(13, 5) < scipy_stats.norm.sf(3) < scipy_stats.poisson.sf(12, 5)
    observed[[1, -1]] = (1, 14)  # the total still 120
    again = control_chart(observed, expected, chart="u", limits="probability")
    assert again["sigma_signal"].tolist() == [False] * 23 + [True]


def test_p_chart_probability_limits_are_binomial_quantiles():
    # Given 12 months of 40 cases with a 10% event rate overall
    n = np.full(12, 40)
    x = np.array([4, 3, 5, 4, 4, 6, 2, 4, 4, 5, 3, 8])
    # When charted with probability limits
    d = control_chart(x, n, chart="p", limits="probability")
    p = x.sum() / n.sum()
    # Then the limits are Binomial(40, p) quantiles at the tails of 3 and 2 sigma, over n
    for col, q in (("ucl", 0.99865), ("lcl", 0.00135), ("ucl_95", 0.97725), ("lcl_95", 0.02275)):
        want = scipy_stats.binom.ppf(q, 40, p) / 40
        assert d[col].iloc[0] == pytest.approx(want, abs=1e-3), col


def test_probability_limits_hold_the_stated_tail_for_rare_counts():
    # Given in-control Poisson counts with 2 to 8 expected events a month
    rng = np.random.default_rng(3)
    flags = {"sigma": 0, "probability": 0}
    points = 0
    for _ in range(300):
        e = rng.uniform(2, 8, 24)
        y = rng.poisson(e)
        for how in flags:
            d = control_chart(y, e, chart="u", limits=how)
            flags[how] += int((d["y"] > d["ucl"]).sum())
        points += 24
    # When charted, then the probability limits flag at most 0.135% of the points above the
    # upper limit (with sampling slack), where 3 sigma flags several times that.
    assert flags["probability"] / points < 0.0025
    assert flags["sigma"] > 2 * flags["probability"]


def test_i_chart_probability_limits_correct_for_the_estimated_sigma():
    # Given in-control normal series of 24 months, sigma estimated from their moving ranges
    rng = np.random.default_rng(11)
    above = {"sigma": 0, "probability": 0}
    for _ in range(2000):
        y = rng.standard_normal(24)
        for how in above:
            d = control_chart(y, chart="i", limits=how)
            above[how] += int((d["y"] > d["ucl"]).sum())
    points = 2000 * 24
    # Then 3 sigma flags ~0.24% of them above the upper limit, the probability limits ~0.135%
    assert above["sigma"] / points > 0.0018
    assert above["probability"] / points == pytest.approx(0.00135, abs=0.0006)
    # and the factor shrinks towards 3 as the series grows (sigma better estimated).
    assert i_chart_factors(12)[""] > i_chart_factors(24)[""] > i_chart_factors(36)[""] > 3


def test_probability_limits_refused_where_undefined():
    with pytest.raises(ValueError, match="probability limits"):
        control_chart([1.0, 2.0, 3.0], chart="g", limits="probability")
    with pytest.raises(ValueError, match="unknown limits"):
        control_chart([1, 2, 3], [5, 5, 5], chart="u", limits="exact")
