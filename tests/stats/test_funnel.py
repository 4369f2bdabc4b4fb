"""Funnel plots: FunnelPlotR's published limits, overdispersion by hand, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cmo.stats.funnel import binomial_limits, funnel, overdispersion, poisson_limits


def test_poisson_limits_match_funnelplotr(reference_dir):
    # PUBLISHED: FunnelPlotR (chrismainey/FunnelPlotR @ 12ad19a) limits at E = 15, 20, 30.
    ref = pd.read_csv(reference_dir / "funnel" / "expected_funnelplotr_poisson_limits.csv")
    e = ref["expected_E"].to_numpy(float)
    lo95, hi95 = poisson_limits(e, 0.95)
    lo998, hi998 = poisson_limits(e, 0.998)
    np.testing.assert_allclose(lo95, ref["LCL95"], atol=1e-6)
    np.testing.assert_allclose(hi95, ref["UCL95"], atol=1e-6)
    np.testing.assert_allclose(lo998, ref["LCL99_8"], atol=1e-6)
    np.testing.assert_allclose(hi998, ref["UCL99_8"], atol=1e-6)
    # The same limits come out of funnel() for units with those expected counts.
    d = funnel(e, expected=e)
    np.testing.assert_allclose(d["ucl_99_8"], ref["UCL99_8"], atol=1e-6)
    assert not d["outlier_95"].any()


def test_grouped_ratios_match_funnelplotr(reference_dir):
    # PUBLISHED: FunnelPlotR's aggregation test: O/E per group.
    ref = pd.read_csv(reference_dir / "funnel" / "expected_funnelplotr_aggregate.csv")
    # Split each group into two rows: funnel() sums rows that share a label.
    num = np.concatenate([ref["numerator"] - 100, np.full(len(ref), 100)])
    den = np.concatenate([ref["denominator"] - 50, np.full(len(ref), 50)])
    labels = list(ref["group"]) * 2
    d = funnel(num, expected=den, labels=labels)
    assert d["label"].tolist() == ref["group"].tolist()
    np.testing.assert_allclose(d["numerator"], ref["numerator"])
    np.testing.assert_allclose(d["ratio_or_rate"], ref["expected_rr"], atol=1e-6)


def test_binomial_limits_by_definition():
    # Spiegelhalter 2005 A.1.1: with r the p-quantile, limit = (r - α)/n; check one by hand.
    n, p0, q = 200, 0.12, 0.975
    r = stats.binom.ppf(q, n, p0)
    f, f1 = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
    _, hi = binomial_limits(p0, n, 0.95)
    assert hi == pytest.approx((r - (f - q) / (f - f1)) / n, abs=1e-12)
    # Close to the normal approximation at large n.
    lo, hi = binomial_limits(p0, 20000, 0.998)
    half = stats.norm.ppf(0.999) * np.sqrt(p0 * (1 - p0) / 20000)
    assert lo == pytest.approx(p0 - half, abs=2e-4) and hi == pytest.approx(p0 + half, abs=2e-4)


def _overdispersed(seed: int = 3, k: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    e = rng.uniform(20, 500, k)
    return rng.poisson(e * rng.lognormal(0, 0.25, k)).astype(float), e


def test_shmi_overdispersion_by_hand():
    o, e = _overdispersed()
    d = funnel(o, expected=e, od="shmi")
    # Reference recipe (../shared/reference/README.md): z = sqrt(E) log(O/E); drop the 10%
    # most extreme at each end; phi = mean z²; tau² = (k phi - (k-1)) / (Σw - Σw²/Σw), w = E.
    z = np.sqrt(e) * np.log(o / e)
    lz, uz = np.quantile(z, [0.1, 0.9])
    keep = (z > lz) & (z < uz)
    k, phi = keep.sum(), np.mean(z[keep] ** 2)
    w = e[keep]
    tau2 = (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum())
    assert d.attrs["phi"] == pytest.approx(phi) and d.attrs["tau2"] == pytest.approx(tau2)
    np.testing.assert_allclose(d["ucl_95"], np.exp(1.959964 * np.sqrt(1 / e + tau2)), rtol=1e-6)
    np.testing.assert_allclose(d["lcl_99_8"], np.exp(-3.090232 * np.sqrt(1 / e + tau2)), rtol=1e-6)
    plain = funnel(o, expected=e)
    assert d["outlier_95"].sum() < plain["outlier_95"].sum()


def test_cqc_overdispersion_winsorises():
    o, e = _overdispersed(seed=5)
    d = funnel(o, expected=e, od="cqc")
    z = 2 * (np.sqrt(o) - np.sqrt(e))
    lz, uz = np.quantile(z, [0.1, 0.9])
    zw = np.clip(z, lz, uz)
    assert d.attrs["phi"] == pytest.approx(np.mean(zw**2))
    tau2 = d.attrs["tau2"]
    assert tau2 > 0
    np.testing.assert_allclose(
        d["ucl_95"], (1 + 1.959964 * np.sqrt(1 / (4 * e) + tau2)) ** 2, rtol=1e-6
    )


def test_no_overdispersion_keeps_exact_limits():
    rng = np.random.default_rng(11)
    e = rng.uniform(50, 300, 40)
    o = rng.poisson(e).astype(float)
    phi, tau2, _ = overdispersion(np.sqrt(e) * np.log(o / e), 1 / np.sqrt(e), "shmi")
    assert tau2 == 0.0 and phi < 1.5
    d = funnel(o, expected=e, od="shmi")
    np.testing.assert_allclose(d["ucl_95"], poisson_limits(e, 0.95)[1])


def test_proportion_funnel_flags_the_outlier_and_names_columns():
    n = np.array([100, 200, 400, 800, 150, 300])
    x = np.array([10, 21, 39, 82, 45, 29])  # unit 5 at 30% against ~12%
    d = funnel(x, n, labels=list("ABCDEF"))
    for col in ("lcl_95", "ucl_95", "lcl_99_8", "ucl_99_8", "outlier_95", "outlier_99_8"):
        assert col in d.columns
    assert d.loc[d["outlier_99_8"], "label"].tolist() == ["E"]
    assert d.set_index("label").loc["E", "direction"] == "high"


def test_invalid_input():
    with pytest.raises(ValueError, match="exactly one"):
        funnel([1, 2])
    with pytest.raises(ValueError, match="negative"):
        funnel([1, -2], expected=[1, 2])
    with pytest.raises(ValueError, match="exceed"):
        funnel([5, 2], [4, 3])
    with pytest.raises(ValueError, match="od must"):
        funnel([1, 2], [4, 3], od="x")


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=0.01, max_value=0.99),
    st.lists(st.integers(min_value=1, max_value=5000), min_size=2, max_size=30, unique=True),
)
def test_binomial_limits_within_0_1_and_widen_as_n_falls(p0, ns):
    n = np.sort(np.array(ns, float))
    for level in (0.95, 0.998):
        lo, hi = binomial_limits(p0, n, level)
        assert np.all((lo >= 0) & (lo <= p0 + 1e-12) & (hi <= 1) & (hi >= p0 - 1e-12))
        width = hi - lo
        # Exact limits are step-like at tiny n: allow the interpolation's small wobble.
        assert np.all(np.diff(width) <= 1 / n[:-1] + 1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.5, max_value=1e5), min_size=2, max_size=30, unique=True))
def test_poisson_limits_narrow_as_expected_grows(es):
    e = np.sort(np.array(es))
    lo, hi = poisson_limits(e, 0.998)
    assert np.all(lo < 1) and np.all(hi > 1)
    assert np.all(np.diff(hi - lo) <= 1e-12)


def test_zero_events_at_tiny_expected_is_not_an_outlier() -> None:
    """0 events when E = 0.05 happens 95% of the time: below the drawn limit, but not a signal."""
    d = funnel([0, 0], expected=[0.05, 5.0])
    assert d["ratio_or_rate"].tolist() == [0.0, 0.0]
    assert d["lcl_95"].iloc[0] > 0  # the drawn (continuous) limit is above zero
    assert d["outlier_95"].tolist() == [False, True]  # exp(-5) = 0.007 < 0.025
    assert d["direction"].tolist() == ["", "low"]
    p = funnel([0, 0, 30], denominator=[1, 60, 60])
    assert p["outlier_95"].tolist() == [False, True, True]


def test_p_values_are_exact_without_overdispersion():
    """Given O/E units and no overdispersion, the p-value is the exact two-sided Poisson
    2 min(P(X <= O), P(X >= O)) under E; a unit outside the 99.8% limit has p < 0.002 (the
    drawn limits are the continuous, slightly wider FunnelPlotR curves)."""
    from scipy import stats as st

    o = np.array([0.0, 5.0, 12.0, 34.0, 9.0])
    e = np.array([2.0, 5.0, 4.0, 15.0, 10.0])
    d = funnel(o, expected=e)
    want = np.minimum(1, 2 * np.minimum(st.poisson.cdf(o, e), st.poisson.sf(o - 1, e)))
    np.testing.assert_allclose(d["p_value"], want)
    assert (d.loc[d["outlier_99_8"], "p_value"] < 0.002).all() and d["outlier_99_8"].any()


def test_od_use_keeps_small_units_out_of_the_estimate():
    """Given a wildly discrepant tiny unit, when it is left out of φ/τ² (od_use), then τ² is the
    one estimated from the other units alone and the tiny unit still gets limits."""
    rng = np.random.default_rng(3)
    e = rng.uniform(20, 200, 30)
    o = rng.poisson(e * rng.lognormal(0, 0.15, 30)).astype(float)
    with_tiny = funnel(np.append(o, 9.0), expected=np.append(e, 0.5), od="shmi",
                       od_use=np.append(np.ones(30, bool), False))  # fmt: skip
    alone = funnel(o, expected=e, od="shmi")
    assert with_tiny.attrs["tau2"] == pytest.approx(alone.attrs["tau2"])
    assert np.isfinite(with_tiny["ucl_99_8"].iloc[-1]) and not with_tiny["used_for_od"].iloc[-1]
