"""Empirical-Bayes shrinkage of observed/expected ratios (gamma-Poisson).

Small units' O/E ratios are noisy: a practitioner with 0.4 expected deaths has an O/E of 0 or
2.5. Profiling methods that rank or judge units (CMS hospital-wide mortality and readmission
RSMR/RSRR, Normand & Shahian) therefore report each unit's estimate *shrunk* toward the
average in proportion to how little information it carries. We use the gamma-Poisson
(negative-binomial) empirical-Bayes model of disease mapping:

    O_i ~ Poisson(E_i θ_i),    θ_i ~ Gamma(shape α, rate α/μ)   (mean μ, variance μ²/α)

so the posterior of unit i's ratio is Gamma(α + O_i, α/μ + E_i), whose mean

    θ̂_i = (α + O_i) / (α/μ + E_i) = μ + C_i (O_i/E_i − μ),   C_i = E_i / (E_i + α/μ),

moves a unit with little expected (E_i small against α/μ) almost all the way to μ and leaves a
large unit near its own O/E. μ and the between-unit variance σ² = μ²/α are estimated from the
units of one measure × level × period by the method of moments of Marshall (1991):

    μ = ΣO / ΣE,   s² = Σ E_i (r_i − μ)² / ΣE,   σ² = max(0, s² − μ / Ē),   Ē = ΣE / k.

When σ² = 0 (no variation beyond chance) every unit is shrunk to μ. The prior is never
allowed to be more precise than the family mean it is centred on: α ≤ ΣO, so the prior's
relative variance 1/α is at least 1/ΣO, the Poisson variance of μ̂ = ΣO/ΣE (plug-in EB
intervals that ignore the uncertainty of μ are too narrow, Morris JASA 1983;78:47-55; without
the cap a family with σ² = 0 would get intervals of zero width). The 95% interval is the
posterior Gamma's 2.5% and 97.5% quantiles.

Sources:
- Clayton D, Kaldor J. Empirical Bayes estimates of age-standardized relative risks for use in
  disease mapping. Biometrics 1987;43:671-681 (the gamma-Poisson model and its posterior).
- Marshall RJ. Mapping disease and mortality rates using empirical Bayes estimators. J R Stat
  Soc C (Appl Stat) 1991;40:283-294 (the moment estimator of μ and σ², "global" version).
- Normand S-LT, Shahian DM. Statistical and clinical aspects of hospital outcomes profiling.
  Stat Sci 2007;22:206-226 (why profiling shrinks; CMS's hierarchical logistic model is the
  random-intercept relative of this model).

Continuous outcomes (length-of-stay days against expected days) are not Poisson counts; the
caller rescales O and E by the days' dispersion d = variance / mean (a quasi-Poisson scale:
O/d and E/d behave like counts with the same ratio), see :func:`eb_ratio`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

MIN_UNITS = 3  # fewer units give no estimate of the between-unit variance


def _moments(o: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """(μ, σ²) by Marshall's (1991) moments over the units with E > 0."""
    ok = e > 0
    o, e = o[ok], e[ok]
    if e.sum() <= 0:
        return float("nan"), float("nan")
    mu = float(o.sum() / e.sum())
    r = o / e
    s2 = float(np.sum(e * (r - mu) ** 2) / e.sum())
    return mu, max(0.0, s2 - mu / (e.sum() / e.size))


def eb_ratio(
    observed: Any,
    expected: Any,
    *,
    dispersion: Any = None,
    level: float = 0.95,
    min_units: int = MIN_UNITS,
) -> pd.DataFrame:
    """Shrunk O/E of each unit of one family (one measure × level × period).

    Args:
        observed, expected: per unit (O may be a count or a sum of days; E > 0 to be shrunk).
        dispersion: optional d per unit (or one value): O and E are divided by it first
            (quasi-Poisson scale for continuous outcomes; the ratio O/E is unchanged).
        level: of the posterior interval.
        min_units: with fewer units with E > 0 nothing is shrunk (NaN).

    Returns:
        DataFrame with shrunk_ratio, shrunk_low, shrunk_high (NaN where E ≤ 0 or too few
        units), weight (C_i, the share of the unit's own O/E in its estimate). ``attrs`` hold
        mu, sigma2 and shape (α, at most ΣO).
    """
    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    if o.shape != e.shape or o.ndim != 1:
        raise ValueError("observed and expected must be 1-d and of the same length")
    if dispersion is not None:
        d = np.broadcast_to(np.asarray(dispersion, float), o.shape)
        d = np.where(np.isfinite(d) & (d > 0), d, 1.0)
        o, e = o / d, e / d
    e = np.where(np.isfinite(e), e, 0.0)
    o = np.where(np.isfinite(o), o, 0.0)
    out = pd.DataFrame(
        {
            "shrunk_ratio": np.nan,
            "shrunk_low": np.nan,
            "shrunk_high": np.nan,
            "weight": np.nan,
        },
        index=range(o.size),
    )
    ok = e > 0
    if ok.sum() < min_units:
        out.attrs.update(mu=float("nan"), sigma2=float("nan"), shape=float("nan"))
        return out
    mu, sigma2 = _moments(o, e)
    if not np.isfinite(mu) or mu <= 0:
        # No events anywhere: every unit's best estimate is 0 and nothing can be shrunk to it.
        out.attrs.update(mu=mu, sigma2=sigma2, shape=float("nan"))
        return out
    shape = min(mu**2 / sigma2 if sigma2 > 0 else np.inf, float(o[ok].sum()))
    a = shape + o[ok]
    b = shape / mu + e[ok]
    tail = (1 - level) / 2
    out.loc[ok, "shrunk_ratio"] = a / b
    out.loc[ok, "shrunk_low"] = stats.gamma.ppf(tail, a, scale=1 / b)
    out.loc[ok, "shrunk_high"] = stats.gamma.ppf(1 - tail, a, scale=1 / b)
    out.loc[ok, "weight"] = e[ok] / (e[ok] + shape / mu)
    out.attrs.update(mu=mu, sigma2=sigma2, shape=shape)
    return out


def eb_ratio_groups(
    frame: pd.DataFrame,
    keys: list[str],
    *,
    observed: str = "numerator",
    expected: str = "expected",
    dispersion: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`eb_ratio` within each group of ``frame`` by ``keys``, vectorised over the groups
    (the result table has thousands of families). Returns shrunk_ratio, shrunk_low,
    shrunk_high aligned to ``frame``'s index."""
    o = pd.to_numeric(frame[observed], errors="coerce").to_numpy(float)
    e = pd.to_numeric(frame[expected], errors="coerce").to_numpy(float)
    if dispersion is not None:
        d = pd.to_numeric(frame[dispersion], errors="coerce").to_numpy(float)
        d = np.where(np.isfinite(d) & (d > 0), d, 1.0)
        o, e = o / d, e / d
    ok = np.isfinite(e) & (e > 0) & np.isfinite(o)
    o, e = np.where(ok, o, 0.0), np.where(ok, e, 0.0)
    group = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(group.max()) + 1 if group.size else 0
    k = np.bincount(group, weights=ok, minlength=n_groups)
    so = np.bincount(group, weights=o, minlength=n_groups)
    se = np.bincount(group, weights=e, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = so / se
        r = np.where(ok, o / np.where(ok, e, 1.0), 0.0)
        s2 = (
            np.bincount(
                group, weights=np.where(ok, e * (r - mu[group]) ** 2, 0.0), minlength=n_groups
            )
            / se
        )
        sigma2 = np.maximum(0.0, s2 - mu / (se / k))
        shape = np.minimum(np.where(sigma2 > 0, mu**2 / sigma2, np.inf), so)
    usable = (k >= MIN_UNITS) & np.isfinite(mu) & (mu > 0)
    use = ok & usable[group]
    a = shape[group] + o
    b = shape[group] / np.where(usable, mu, 1.0)[group] + e
    tail = (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(use, a / b, np.nan)
        lo = np.where(use, stats.gamma.ppf(tail, a, scale=1 / b), np.nan)
        hi = np.where(use, stats.gamma.ppf(1 - tail, a, scale=1 / b), np.nan)
    return pd.DataFrame(
        {"shrunk_ratio": est, "shrunk_low": lo, "shrunk_high": hi}, index=frame.index
    )
