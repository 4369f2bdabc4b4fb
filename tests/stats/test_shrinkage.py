"""Empirical-Bayes O/E (gamma-Poisson; Clayton & Kaldor 1987, Marshall 1991 moments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cmo.stats.shrinkage import eb_ratio, eb_ratio_groups


def test_posterior_matches_the_hand_computed_gamma_poisson():
    """Given 5 units, when shrunk, then μ, σ² follow Marshall's moments and each estimate is
    the Gamma(α + O, α/μ + E) posterior mean with its 2.5%/97.5% quantiles."""
    o = np.array([2.0, 10.0, 30.0, 5.0, 60.0])
    e = np.array([4.0, 8.0, 20.0, 10.0, 40.0])
    mu = o.sum() / e.sum()  # 107 / 82
    r = o / e
    s2 = np.sum(e * (r - mu) ** 2) / e.sum()
    sigma2 = s2 - mu / (e.sum() / 5)
    assert sigma2 > 0
    alpha = min(mu**2 / sigma2, o.sum())
    got = eb_ratio(o, e)
    assert got.attrs["mu"] == pytest.approx(mu)
    assert got.attrs["sigma2"] == pytest.approx(sigma2)
    assert got.attrs["shape"] == pytest.approx(alpha)
    a, b = alpha + o, alpha / mu + e
    np.testing.assert_allclose(got["shrunk_ratio"], a / b, rtol=1e-12)
    np.testing.assert_allclose(got["shrunk_low"], stats.gamma.ppf(0.025, a, scale=1 / b))
    np.testing.assert_allclose(got["shrunk_high"], stats.gamma.ppf(0.975, a, scale=1 / b))
    # Marshall's form: μ + C (r - μ), C = E / (E + α/μ).
    c = e / (e + alpha / mu)
    np.testing.assert_allclose(got["shrunk_ratio"], mu + c * (r - mu), rtol=1e-12)


def test_fewer_cases_are_shrunk_further_toward_the_mean():
    """Given two units with the same O/E of 2, one with 2 expected and one with 50, when shrunk
    in a family with real between-unit variation, then the small one moves much closer to the
    family mean than the large one, and its interval is wider."""
    o = np.array([4.0, 100.0, 20.0, 30.0, 10.0, 45.0])
    e = np.array([2.0, 50.0, 25.0, 30.0, 15.0, 40.0])
    got = eb_ratio(o, e)
    mu = got.attrs["mu"]
    small, large = got.iloc[0], got.iloc[1]
    assert abs(small.shrunk_ratio - mu) < abs(large.shrunk_ratio - mu)
    assert abs(small.shrunk_ratio - 2) > abs(large.shrunk_ratio - 2)
    assert mu < small.shrunk_ratio < 2 and mu < large.shrunk_ratio < 2
    assert small.shrunk_high - small.shrunk_low > large.shrunk_high - large.shrunk_low


def test_no_variation_beyond_chance_shrinks_to_the_mean_with_an_honest_interval():
    """Given units that agree as well as Poisson noise allows (σ² = 0), when shrunk, then every
    estimate is close to μ, yet the interval keeps the uncertainty of μ (α ≤ ΣO)."""
    o = np.array([10.0, 10.0, 10.0, 10.0])
    e = np.array([10.0, 10.0, 10.0, 10.0])
    got = eb_ratio(o, e)
    assert got.attrs["sigma2"] == 0
    assert got.attrs["shape"] == pytest.approx(40.0)
    np.testing.assert_allclose(got["shrunk_ratio"], 1.0)
    assert (got["shrunk_high"] - got["shrunk_low"] > 0.4).all()


def test_too_few_units_or_no_expected_are_not_shrunk():
    got = eb_ratio([1.0, 2.0], [1.0, 2.0])
    assert got["shrunk_ratio"].isna().all()
    got = eb_ratio([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 0.0, 4.0])
    assert np.isnan(got["shrunk_ratio"].iloc[2]) and got["shrunk_ratio"].notna().sum() == 3


def test_dispersion_rescales_days_without_changing_the_ratio():
    """Given LOS days with dispersion d, when shrunk on the quasi-Poisson scale, then the family
    mean is unchanged and units are shrunk more than if the days were Poisson counts."""
    o = np.array([120.0, 300.0, 80.0, 500.0, 60.0])
    e = np.array([100.0, 310.0, 95.0, 450.0, 40.0])
    raw, scaled = eb_ratio(o, e), eb_ratio(o, e, dispersion=4.0)
    assert scaled.attrs["mu"] == pytest.approx(raw.attrs["mu"])
    mu = raw.attrs["mu"]
    assert abs(scaled["shrunk_ratio"].iloc[4] - mu) <= abs(raw["shrunk_ratio"].iloc[4] - mu)


def test_grouped_equals_one_family_at_a_time():
    rng = np.random.default_rng(7)
    e = rng.uniform(0.5, 30, 60)
    frame = pd.DataFrame(
        {
            "g": np.repeat(["a", "b", "c"], 20),
            "expected": e,
            "numerator": rng.poisson(e * rng.lognormal(0, 0.3, 60)).astype(float),
        }
    )
    got = eb_ratio_groups(frame, ["g"])
    for _, part in frame.groupby("g"):
        one = eb_ratio(part["numerator"], part["expected"])
        np.testing.assert_allclose(
            got.loc[part.index, "shrunk_ratio"], one["shrunk_ratio"], rtol=1e-10
        )
        np.testing.assert_allclose(got.loc[part.index, "shrunk_high"], one["shrunk_high"])
