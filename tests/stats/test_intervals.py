"""Intervals: NHSN SIR reference cases, statsmodels cross-checks, published figures, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from cmo.stats.intervals import byar_oe, exact_binomial, poisson_oe, sir_midp, sum_oe, wilson


def test_sir_midp_reproduces_reference_cases(reference_dir):
    # computed_UNPUBLISHED_sir_midp.csv is UNPUBLISHED (computed independently, not an oracle);
    # it agrees with statsmodels' midp-c except where NHSN drops the lower bound (observed = 0).
    ref = pd.read_csv(reference_dir / "nhsn_sir" / "computed_UNPUBLISHED_sir_midp.csv")
    res = sir_midp(ref["observed"].to_numpy(), ref["predicted"].to_numpy())
    # The file is rounded to 4 decimals: compare at that precision.
    for ours, col in [
        (res.sir, "SIR"),
        (res.ci_low, "ci_lower"),
        (res.ci_high, "ci_upper"),
        (res.p_value, "midp_two_sided_p"),
    ]:
        np.testing.assert_allclose(ours, ref[col].to_numpy(), atol=5e-5, equal_nan=True)


def test_sir_nhsn_rules():
    not_calculated = sir_midp(1, 0.9)
    assert math.isnan(not_calculated.sir) and math.isnan(not_calculated.ci_high)
    zero = sir_midp(0, 3.2)
    assert zero.sir == 0.0 and math.isnan(zero.ci_low)
    # Upper bound with no events: ½P(X=0) = a/2 → mu = -ln(0.05) (mid-P), divided by predicted.
    assert zero.ci_high == pytest.approx(-math.log(0.05) / 3.2, abs=1e-9)


def test_sir_rejects_fractional_observed():
    with pytest.raises(ValueError, match="whole"):
        sir_midp(1.5, 3)


def test_wilson_and_clopper_pearson_match_statsmodels():
    x = np.array([0, 1, 7, 50, 99, 100])
    n = np.array([100, 100, 100, 100, 100, 100])
    for method, ours in [("wilson", wilson), ("beta", exact_binomial)]:
        for level in (0.95, 0.998):
            lo, hi = ours(x, n, level)
            slo, shi = proportion_confint(x, n, alpha=1 - level, method=method)
            np.testing.assert_allclose(lo, slo, atol=1e-9)
            np.testing.assert_allclose(hi, shi, atol=1e-9)


def test_published_poisson_figures():
    # Ulm 1990 / Breslow & Day 1987 table: O = 1 → exact 95% limits on the count 0.0253, 5.5716;
    # O = 10 → 4.7954, 18.3904 (standard Poisson tables, e.g. Geigy Scientific Tables).
    lo, hi = poisson_oe(np.array([1, 10]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(lo, [0.0253, 4.7954], atol=1e-4)
    np.testing.assert_allclose(hi, [5.5716, 18.3904], atol=1e-4)
    # Byar's approximation is close to exact for moderate counts.
    blo, bhi = byar_oe(10, 1.0)
    assert blo == pytest.approx(4.7954, abs=0.02) and bhi == pytest.approx(18.3904, abs=0.02)


def test_scalars_in_scalars_out_and_zero_denominator_is_nan():
    lo, hi = wilson(3, 10)
    assert isinstance(lo, float) and isinstance(hi, float)
    lo, hi = exact_binomial(0, 0)
    assert math.isnan(lo) and math.isnan(hi)
    lo, hi = poisson_oe(3, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_invalid_input_raises():
    with pytest.raises(ValueError, match="exceed"):
        wilson(11, 10)
    with pytest.raises(ValueError, match="negative"):
        poisson_oe(-1, 2)
    with pytest.raises(ValueError, match="level"):
        exact_binomial(1, 2, level=95)


counts = st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.998])


@given(counts, levels)
def test_proportion_intervals_contain_estimate(xn, level):
    x, n = xn
    for f in (wilson, exact_binomial):
        lo, hi = f(x, n, level)
        assert 0 <= lo <= x / n + 1e-12 and x / n - 1e-12 <= hi <= 1


@given(
    st.integers(min_value=0, max_value=2000),
    st.floats(min_value=0.01, max_value=2000, allow_nan=False),
    levels,
)
def test_oe_intervals_contain_estimate(o, e, level):
    for f in (poisson_oe, byar_oe):
        lo, hi = f(o, e, level)
        assert 0 <= lo <= o / e + 1e-9 <= hi + 2e-9


@given(
    st.integers(min_value=0, max_value=500),
    st.floats(min_value=1.0, max_value=500, allow_nan=False),
)
def test_sir_interval_contains_estimate(o, e):
    r = sir_midp(o, e)
    assert (math.isnan(r.ci_low) and o == 0) or r.ci_low <= r.sir + 1e-9
    assert r.sir <= r.ci_high + 1e-9
    assert 0 <= r.p_value <= 1


def test_sum_oe_is_the_normal_interval_of_a_sum_and_covers_95_percent():
    rng = np.random.default_rng(7)
    days = rng.gamma(1.2, 4.0, 300).round()  # LOS-like: variance several times the mean
    o, ss, n, e = days.sum(), (days**2).sum(), len(days), 1400.0
    half = 1.959963984540054 * np.sqrt(n) * days.std(ddof=1)
    assert sum_oe(o, ss, n, e) == pytest.approx(((o - half) / e, (o + half) / e), rel=1e-12)
    assert all(math.isnan(v) for v in sum_oe(5.0, 25.0, 1, 4.0))  # one stay: no variance
    assert all(math.isnan(v) for v in sum_oe(5.0, 13.0, 2, 0.0))
    # Given 4,000 samples of 200 stays whose true mean is the expected one, the interval holds
    # O/E = 1 in ~95% of them; the Poisson interval (variance = mean) holds it far less often.
    sims = rng.gamma(1.2, 4.0, (4000, 200))
    mu = 1.2 * 4.0
    o, ss = sims.sum(axis=1), (sims**2).sum(axis=1)
    lo, hi = sum_oe(o, ss, 200, 200 * mu)
    assert 0.93 < np.mean((lo <= 1) & (hi >= 1)) < 0.97
    plo, phi = poisson_oe(o, np.full(len(o), 200 * mu))
    assert np.mean((plo <= 1) & (phi >= 1)) < 0.8
