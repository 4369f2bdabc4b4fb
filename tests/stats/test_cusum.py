"""Risk-adjusted CUSUM and VLAD: published weights (Steiner 2014, Rigdon & Fricker 2015 via
the R package vlad), the seeded ARL calibration, and properties."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from cmo.stats import cusum
from cmo.stats.cusum import (
    arl_curve,
    bernoulli_cusum,
    cusum_weights,
    limit_for_arl,
    markov_limit_for_arl,
    run_lengths,
    vlad,
)


def test_published_weights_risks_and_vlad(reference_dir):
    # PUBLISHED: Steiner 2014 p.234, Steiner et al. 2000 p.445, Rigdon & Fricker 2015 p.225-226
    # (as tested in the R package vlad 0.2.2), each with the tolerance the file gives.
    ref = pd.read_csv(reference_dir / "cusum_vlad" / "racusum_llr_weights_and_vlad.csv")
    assert len(ref) == 14
    for _, r in ref.iterrows():
        p = float(expit(r["intercept"] + r["slope_parsonnet"] * r["parsonnet"]))
        tol = float(r["tolerance"])
        if not np.isnan(r["expected_p"]):
            assert p == pytest.approx(r["expected_p"], abs=tol)
        if not np.isnan(r["expected_W"]):
            w = cusum_weights([r["died"]], [p], r["RA"])[0]
            # One published weight (-0.0954) differs from the formula (-0.0945): tolerance 1e-2.
            assert w == pytest.approx(r["expected_W"], abs=tol), r.to_dict()
        if not np.isnan(r["expected_O_minus_E"]):
            # VLAD accumulates E - O, so one case moves it by -(O - E).
            assert vlad([r["died"]], [p])[0] == pytest.approx(-r["expected_O_minus_E"], abs=tol)


def test_published_first_cusum_step(reference_dir):
    case = json.loads((reference_dir / "cusum_vlad" / "racusum_scores_case.json").read_text())
    inp = case["input"]
    p = float(expit(inp["intercept"] + inp["slope"] * inp["parsonnet"]))
    d = bernoulli_cusum([inp["died"]], [p], odds_ratio=2.0, h=4.5)
    assert d["w_upper"].iloc[0] == pytest.approx(inp["W_RA2_rounded_4dp"], abs=5e-5)
    assert d["w_lower"].iloc[0] == pytest.approx(inp["W_RAhalf_rounded_5dp"], abs=5e-6)
    assert d["s_upper"].iloc[0] == pytest.approx(case["expected"]["s1"], abs=1e-9)
    assert d["s_lower"].iloc[0] == pytest.approx(case["expected"]["s1l"], abs=5e-6)


def test_cusum_recursion_and_signal():
    p = np.full(60, 0.05)
    y = np.zeros(60)
    y[30:40] = 1  # a cluster of deaths among low-risk patients
    d = bernoulli_cusum(y, p, h=3.0)
    w = np.log(2) * y - np.log(1 + p)
    s = 0.0
    for i in range(60):
        s = max(0.0, s + w[i])
        assert d["s_upper"].iloc[i] == pytest.approx(s)
    assert not d["signal_upper"].iloc[:30].any() and d["signal_upper"].iloc[39]
    assert not d["signal_lower"].any()


def test_limit_for_arl_is_seeded_and_gives_the_asked_arl():
    rng = np.random.default_rng(4)
    p = np.clip(rng.beta(1, 15, 500), 1e-3, 0.9)
    h = limit_for_arl(p, 2.0, 300, seed=3)
    assert h == limit_for_arl(p, 2.0, 300, seed=3)
    assert limit_for_arl(p, 2.0, 1200, seed=3) > h
    # Independent check: run-lengths simulated afresh average close to 300.
    sim = np.random.default_rng(123)
    lengths = []
    for _ in range(400):
        s, t = 0.0, 0
        while s <= h:
            t += 1
            pi = p[sim.integers(p.size)]
            s = max(0.0, s + (sim.random() < pi) * np.log(2) - np.log(1 + pi))
        lengths.append(t)
    assert np.mean(lengths) == pytest.approx(300, rel=0.15)


def test_default_limit_comes_from_simulation():
    p = np.full(50, 0.1)
    d = bernoulli_cusum(np.zeros(50), p, arl0=200, seed=1)
    assert d.attrs["arl0"] == 200 and d.attrs["h_upper"] > 0 and d.attrs["h_lower"] > 0
    assert (d["h_upper"] == d.attrs["h_upper"]).all()


def test_invalid_input():
    with pytest.raises(ValueError, match="0 or 1"):
        bernoulli_cusum([2], [0.1], h=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        vlad([1], [1.0])
    with pytest.raises(ValueError, match="odds_ratio"):
        bernoulli_cusum([1], [0.1], odds_ratio=1, h=1)


cases = st.lists(
    st.tuples(st.booleans(), st.floats(min_value=0.001, max_value=0.999)), min_size=1, max_size=200
)


@settings(max_examples=80, deadline=None)
@given(cases, st.floats(min_value=0.2, max_value=5.0).filter(lambda r: abs(r - 1) > 1e-3))
def test_cusum_closed_form_equals_the_recursion(data, ra):
    """The closed form (running sum minus its running minimum) is the recursion
    S_t = max(0, S_{t-1} + W_t), through every reset to zero, on both sides."""
    y = np.array([float(a) for a, _ in data])
    p = np.array([b for _, b in data])
    d = bernoulli_cusum(y, p, odds_ratio=ra, h=4.0)
    for side in ("upper", "lower"):
        level, expected = 0.0, []
        for w in d[f"w_{side}"]:
            level = max(0.0, level + w)
            expected.append(level)
        assert np.allclose(d[f"s_{side}"], expected, rtol=0, atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(cases, st.floats(min_value=0.2, max_value=5.0).filter(lambda r: abs(r - 1) > 1e-3))
def test_cusum_never_negative(data, ra):
    y = np.array([float(a) for a, _ in data])
    p = np.array([b for _, b in data])
    d = bernoulli_cusum(y, p, odds_ratio=ra, h=4.0)
    assert (d["s_upper"] >= 0).all() and (d["s_lower"] >= 0).all()


@settings(max_examples=80, deadline=None)
@given(cases)
def test_vlad_ends_at_expected_minus_observed(data):
    y = np.array([float(a) for a, _ in data])
    p = np.array([b for _, b in data])
    assert vlad(y, p)[-1] == pytest.approx(p.sum() - y.sum())


def test_short_horizon_estimates_the_same_limit():
    """Given a case mix, when h for ARL0 = 2000 is found from chains simulated for only 500
    cases (the censored-exponential ARL), then it agrees with the full simulation (10 x ARL0)
    within the Monte-Carlo error."""
    rng = np.random.default_rng(9)
    p = np.clip(rng.beta(1, 12, 400), 1e-3, 0.9)
    full = limit_for_arl(p, 2.0, 2000, seed=5, n_sim=400)
    short = limit_for_arl(p, 2.0, 2000, seed=5, n_sim=2000, horizon=500)
    assert short == pytest.approx(full, rel=0.12)


def test_build_limit_gives_the_stated_false_alarm_rate_per_year():
    """Given a site's year of 300 in-control stays, when h comes from the build's simulated
    years (ARL0 = 20 x the year's cases reported beside it), then a fresh simulation of
    in-control years signals in about 1 - e^(-1/20) = 4.9% of them (the fixed h = 4.5 it
    replaces: far more; the 1,000 simulated years' error is ±0.7 points, the 3,000 fresh
    ones' ±0.4)."""
    from cmo.measures.results import cusum_limit

    rng = np.random.default_rng(11)
    p = np.clip(rng.beta(1.2, 8, 300), 1e-3, 0.9)
    h, arl0 = cusum_limit(p, 2.0)
    assert arl0 == 6000
    sim = np.random.default_rng(99)
    years = 3000
    risk = p[sim.integers(p.size, size=(years, p.size))]
    y = sim.random(risk.shape) < risk
    w = y * np.log(2.0) - np.log(1 + risk)
    c = np.cumsum(w, axis=1)
    s = c - np.minimum(np.minimum.accumulate(c, axis=1), 0)
    alarms = (s.max(axis=1) > h).mean()
    assert 0.033 < alarms < 0.065
    assert (s.max(axis=1) > 4.5).mean() > alarms


def test_charts_of_one_drift_band_share_one_simulation():
    """Given two sites' years drawn from the same case mix, when the second site's h is read off
    the first site's simulated years (``shared``: its own year of cases, scaled by the drift
    ratio), then it is close to the h that 3,000 fresh years of its own case mix give and
    still gives about a 5% false alarm rate per in-control year; a case mix with twice the risk is
    in another band and gets its own simulation."""
    from cmo.measures.results import cusum_limit

    rng = np.random.default_rng(12)
    site_a = np.clip(rng.beta(1.2, 8, 300), 1e-3, 0.9)
    site_b = np.clip(rng.beta(1.2, 8, 310), 1e-3, 0.9)
    shared: dict = {}
    h_a, _ = cusum_limit(site_a, 2.0, shared=shared)
    h_b, arl0_b = cusum_limit(site_b, 2.0, shared=shared)
    assert sum(map(len, shared.values())) == 1 and arl0_b == 6200
    sim = np.random.default_rng(98)
    risk = site_b[sim.integers(site_b.size, size=(3000, site_b.size))]
    y = sim.random(risk.shape) < risk
    c = np.cumsum(y * np.log(2.0) - np.log(1 + risk), axis=1)
    highest = (c - np.minimum(np.minimum.accumulate(c, axis=1), 0)).max(axis=1)
    # The h of 4.9% a year read off 3,000 fresh years of site B (its own simulation of 1,000
    # years strays from it by ~0.13, the shared one by its Monte-Carlo error and the drift
    # scaling's).
    assert h_b == pytest.approx(np.quantile(highest, np.exp(-1 / 20)), abs=0.3)
    assert 0.025 < (highest > h_b).mean() < 0.085
    cusum_limit(np.clip(site_a * 2, 1e-3, 0.9), 2.0, shared=shared)
    assert sum(map(len, shared.values())) == 2


def test_limit_within_gives_the_asked_alarm_rate_of_its_chains():
    """Given simulated in-control chains, when h is chosen for a 5% chance of an alarm within
    n cases, then 5% of the chains cross h within n (to one chain), a longer n or a higher rate
    gives a higher or lower h, and an n beyond the simulated horizon is refused."""
    rng = np.random.default_rng(6)
    p = np.clip(rng.beta(1.2, 10, 400), 1e-3, 0.9)
    curve = run_lengths(p, 2.0, seed=2, n_sim=1000, horizon=800)
    h = curve.limit_within(400, 0.05)
    assert curve.alarm_rate(h, 400) <= 0.05 < curve.alarm_rate(h - 1e-6, 400)
    assert curve.limit_within(800, 0.05) > h > curve.limit_within(400, 0.10)
    with pytest.raises(ValueError, match="horizon"):
        curve.alarm_rate(h, 801)
    with pytest.raises(ValueError, match="rate"):
        curve.limit_within(400, 1.0)


def test_large_charts_take_the_markov_chain_limit(monkeypatch):
    """Given a chart of more cases a year than the build simulates, when its limit is chosen,
    then it is the Markov chain's h for ARL0 = 20 years of its cases, deterministic."""
    from cmo.measures import results

    monkeypatch.setattr(results, "CUSUM_SIMULATED_CASES", 1000)
    rng = np.random.default_rng(7)
    p = np.clip(rng.beta(1.2, 12, 3000), 1e-3, 0.9)
    h, arl0 = results.cusum_limit(p, 0.5, seed=5)
    assert arl0 == 60000
    assert h == markov_limit_for_arl(p, 0.5, 60000) == results.cusum_limit(p, 0.5, seed=9)[0]


def _simulated_arl(p: np.ndarray, odds: float, h: float, chains: int, seed: int) -> float:
    """Mean run length of ``chains`` in-control CUSUMs from 0 (cases drawn from ``p``)."""
    rng = np.random.default_rng(seed)
    s = np.zeros(chains)
    length = np.zeros(chains, int)
    alive = np.ones(chains, bool)
    t = 0
    while alive.any():
        t += 1
        risk = p[rng.integers(p.size, size=chains)]
        w = (rng.random(chains) < risk) * np.log(odds) - np.log(1 - risk + odds * risk)
        s = np.where(alive, np.maximum(0.0, s + w), s)
        crossed = alive & (s > h)
        length[crossed] = t
        alive &= ~crossed
    return float(length.mean())


@pytest.mark.parametrize("odds", [2.0, 0.5])
def test_markov_chain_arl_agrees_with_simulation(odds):
    """Given a case mix and h = 2 and 3 on either side, when the ARL of the Markov chain
    (Brook and Evans 1972) is compared with 3,000 simulated in-control CUSUMs, then they agree
    within the simulation's error (SE ~2%)."""
    rng = np.random.default_rng(21)
    p = np.clip(rng.beta(1.2, 10, 800), 1e-3, 0.9)
    hs, arl = arl_curve(p, odds, 3.2)
    for h in (2.0, 3.0):
        k = int(np.argmin(np.abs(hs - h)))
        simulated = _simulated_arl(p, odds, float(hs[k]), 3000, seed=int(10 * h))
        assert arl[k] == pytest.approx(simulated, rel=0.07)


def test_markov_limit_gives_the_asked_arl():
    """The Markov chain's h for ARL0 = 300 is deterministic, rises with ARL0, and 2,000
    simulated in-control CUSUMs run about 300 cases before crossing it."""
    rng = np.random.default_rng(4)
    p = np.clip(rng.beta(1, 15, 500), 1e-3, 0.9)
    h = markov_limit_for_arl(p, 2.0, 300)
    assert h == markov_limit_for_arl(p, 2.0, 300) < markov_limit_for_arl(p, 2.0, 1200)
    assert _simulated_arl(p, 2.0, h, 2000, seed=17) == pytest.approx(300, rel=0.08)


def test_arl_prefix_equals_each_chain_solved_alone():
    """The ARLs of every grid level from one factorisation (the leading blocks' prefix) are the
    ARLs of each cut chain solved on its own."""
    rng = np.random.default_rng(3)
    mix = cusum._case_mix(np.clip(rng.beta(1.2, 10, 300), 1e-3, 0.9))
    a = cusum._chain(mix, 0.5, np.log(2) / 16, 120)
    arl = cusum._arls(a)
    assert arl.size == 120
    for k in (1, 2, 17, 60, 120):
        assert arl[k - 1] == pytest.approx(cusum._arl_direct(a, k), rel=1e-9)


def test_markov_limit_past_a_row_exchange_is_the_same(monkeypatch):
    """When the factorisation stops early (a row exchange), the limit found by bisection with
    one solve per cut is the one the full prefix gives."""
    rng = np.random.default_rng(5)
    p = np.clip(rng.beta(1.2, 10, 400), 1e-3, 0.9)
    whole = markov_limit_for_arl(p, 2.0, 5000)
    arls = cusum._arls
    monkeypatch.setattr(cusum, "_arls", lambda a: arls(a)[:7])
    assert markov_limit_for_arl(p, 2.0, 5000) == pytest.approx(whole, abs=1e-9)


@pytest.mark.parametrize(
    "case, odds",
    [(case, odds) for case in ("common", "rare") for odds in (2.0, 0.5)],
)
def test_markov_limit_is_close_to_a_4_times_finer_grid(case, odds):
    """The extrapolated limit of the default grids (16, 32 and 64 cells per ln R_A) against
    one grid of 256 cells, at a large chart's ARL0 (20 years of its cases): common outcomes
    within 0.005, a rare harm (p ~ 0.2%, a first-order grid error) within 0.03, about 3% of
    the ARL (the 256-cell grid is itself ~0.005 above the limit there)."""
    rng = np.random.default_rng(8)
    n, a, b = {"common": (30000, 1.2, 20), "rare": (40000, 1.0, 500)}[case]
    p = np.clip(rng.beta(a, b, n), 1e-5, 0.9)
    arl0 = 20.0 * n
    h = markov_limit_for_arl(p, odds, arl0)
    fine = cusum._limit_on_grid(cusum._case_mix(p), odds, arl0, h + 0.5, 256)
    assert h == pytest.approx(fine, abs=0.03 if case == "rare" else 0.005)
    assert 0 < h <= np.log(arl0)  # Lorden 1971: ARL0 >= e^h
