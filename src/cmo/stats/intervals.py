"""Confidence intervals for proportions, O/E ratios and the NHSN standardized infection ratio.

Every function accepts scalars or numpy arrays (vectorised, broadcast together) and returns
scalars for scalar input, arrays otherwise.

Sources:
- Wilson EB. Probable inference, the law of succession, and statistical inference.
  J Am Stat Assoc 1927;22:209-212 (score interval for a proportion).
- Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of
  the binomial. Biometrika 1934;26:404-413 (exact binomial interval, via the beta distribution).
- Ulm K. A simple method to calculate the confidence interval of a standardized mortality
  ratio. Am J Epidemiol 1990;131:373-375 (exact Poisson interval via chi-squared quantiles).
- Breslow NE, Day NE. Statistical Methods in Cancer Research, vol. II, IARC 1987, p. 69
  (Byar's approximation to the exact Poisson interval).
- CDC/NHSN. The NHSN Standardized Infection Ratio (SIR) Guide, 2022 (updated yearly): SIR not
  calculated when the number predicted is < 1.0; the mid-P exact test and interval; no lower
  bound when the observed count is 0. Mid-P: Rothman KJ, Boice JD. Epidemiologic analysis with
  a programmable calculator, 1979; Lancaster HO 1961.
- Sums of continuous observations against a fixed expected total (the LOS index): normal
  approximation to the sum of n independent observations with their sample variance (central
  limit theorem), as for the O/E of an indirectly standardised mean (the confidence interval of
  a mean: Kirkwood BR, Sterne JAC. Essential Medical Statistics, 2nd ed., Blackwell 2003).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

ArrayLike = Any  # scalar or array-like of numbers


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _out(*arrays: np.ndarray, scalar: bool) -> tuple:
    if scalar:
        return tuple(float(a) for a in arrays)
    return arrays


def _is_scalar(*values: ArrayLike) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def _check_counts(x: np.ndarray, n: np.ndarray) -> None:
    if np.any(x < 0) or np.any(n < 0):
        raise ValueError("counts and denominators must not be negative")
    if np.any(x > n):
        raise ValueError("numerator must not exceed denominator")


def wilson(x: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple:
    """Wilson (1927) score interval for a proportion x/n; NaN where n == 0.

    lo, hi = (p + z²/2n ∓ z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    """
    scalar = _is_scalar(x, n)
    xa, na = np.broadcast_arrays(np.asarray(x, float), np.asarray(n, float))
    _check_counts(xa, na)
    z = _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = xa / na
        denom = 1 + z**2 / na
        centre = (p + z**2 / (2 * na)) / denom
        half = z * np.sqrt(p * (1 - p) / na + z**2 / (4 * na**2)) / denom
    lo = np.clip(centre - half, 0, 1)
    hi = np.clip(centre + half, 0, 1)
    # Exact 0 and 1 at the edges (rounding can leave 1e-17).
    lo = np.where(xa == 0, 0.0, lo)
    hi = np.where(xa == na, 1.0, hi)
    lo = np.where(na == 0, np.nan, lo)
    hi = np.where(na == 0, np.nan, hi)
    return _out(lo, hi, scalar=scalar)


def exact_binomial(x: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple:
    """Clopper–Pearson (1934) exact interval for x/n from beta quantiles; NaN where n == 0.

    lo = Beta(a/2; x, n-x+1), hi = Beta(1-a/2; x+1, n-x); lo = 0 when x = 0, hi = 1 when x = n.
    """
    scalar = _is_scalar(x, n)
    xa, na = np.broadcast_arrays(np.asarray(x, float), np.asarray(n, float))
    _check_counts(xa, na)
    a = 1 - level
    _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(xa > 0, stats.beta.ppf(a / 2, xa, na - xa + 1), 0.0)
        hi = np.where(xa < na, stats.beta.ppf(1 - a / 2, xa + 1, na - xa), 1.0)
    lo = np.where(na == 0, np.nan, lo)
    hi = np.where(na == 0, np.nan, hi)
    return _out(lo, hi, scalar=scalar)


def _check_oe(observed: np.ndarray, expected: np.ndarray) -> None:
    if np.any(observed < 0):
        raise ValueError("observed counts must not be negative")
    if np.any(expected < 0):
        raise ValueError("expected counts must not be negative")


def poisson_oe(observed: ArrayLike, expected: ArrayLike, level: float = 0.95) -> tuple:
    """Exact Poisson interval for the ratio O/E (Ulm 1990), E treated as fixed.

    lo = χ²(a/2; 2O) / 2E, hi = χ²(1-a/2; 2(O+1)) / 2E; lo = 0 when O = 0; NaN where E == 0.
    """
    scalar = _is_scalar(observed, expected)
    o, e = np.broadcast_arrays(np.asarray(observed, float), np.asarray(expected, float))
    _check_oe(o, e)
    a = 1 - level
    _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * o) / 2, 0.0) / e
        hi = stats.chi2.ppf(1 - a / 2, 2 * (o + 1)) / 2 / e
    lo = np.where(e == 0, np.nan, lo)
    hi = np.where(e == 0, np.nan, hi)
    return _out(lo, hi, scalar=scalar)


def byar_oe(observed: ArrayLike, expected: ArrayLike, level: float = 0.95) -> tuple:
    """Byar's approximation to the exact Poisson interval for O/E (Breslow & Day 1987).

    lo = O (1 - 1/9O - z/3√O)³ / E, hi = (O+1) (1 - 1/9(O+1) + z/3√(O+1))³ / E; lo = 0 when O = 0.
    """
    scalar = _is_scalar(observed, expected)
    o, e = np.broadcast_arrays(np.asarray(observed, float), np.asarray(expected, float))
    _check_oe(o, e)
    z = _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0) / e
        o1 = o + 1
        hi = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3 / e
    lo = np.where(e == 0, np.nan, np.maximum(lo, 0.0))
    hi = np.where(e == 0, np.nan, hi)
    return _out(lo, hi, scalar=scalar)


def sum_oe(
    observed: ArrayLike,
    sum_squares: ArrayLike,
    n: ArrayLike,
    expected: ArrayLike,
    level: float = 0.95,
) -> tuple:
    """Interval for O/E when O is a sum of n continuous observations (days of stay) and E a
    fixed expected total: (O ± z·√(n·s²)) / E, s² the sample variance of the observations
    from their sum O and sum of squares; the lower limit is clipped at 0. NaN where n < 2 or
    E == 0. Unlike :func:`poisson_oe`, it does not assume the variance equals the mean, which
    for LOS (variance several times the mean) gave intervals far too narrow.
    """
    scalar = _is_scalar(observed, sum_squares, n, expected)
    o, ss, k, e = np.broadcast_arrays(
        np.asarray(observed, float),
        np.asarray(sum_squares, float),
        np.asarray(n, float),
        np.asarray(expected, float),
    )
    _check_oe(np.abs(o), e)
    z = _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.maximum(ss - o * o / k, 0.0) / (k - 1)  # sample variance of one value
        half = z * np.sqrt(k * variance)
        lo = np.maximum(o - half, 0.0) / e
        hi = (o + half) / e
    bad = (k < 2) | (e == 0)
    return _out(np.where(bad, np.nan, lo), np.where(bad, np.nan, hi), scalar=scalar)


@dataclass(frozen=True)
class SirResult:
    """NHSN standardized infection ratio with its mid-P exact interval and test.

    Fields are floats for scalar input, arrays otherwise; NaN where NHSN does not calculate a
    value (sir/ci/p when predicted < 1; ci_low when observed = 0).
    """

    observed: Any
    predicted: Any
    sir: Any
    ci_low: Any
    ci_high: Any
    p_value: Any  # two-sided mid-P test of SIR = 1


def _midp_tail_lower(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X > x) + ½P(X = x) under Poisson(mu): increases with mu."""
    return stats.poisson.sf(x, mu) + 0.5 * stats.poisson.pmf(x, mu)


def _midp_tail_upper(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X < x) + ½P(X = x) under Poisson(mu): decreases with mu."""
    return stats.poisson.cdf(x, mu) - 0.5 * stats.poisson.pmf(x, mu)


def _midp_count_limits(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Mid-P exact limits for Poisson means given counts x (vectorised bisection).

    Lower: P(X > x) + ½P(X = x) = α/2; upper: P(X < x) + ½P(X = x) = α/2. Both tails are
    monotone in the mean, so 100 halvings of [0, x + 20√(x+1) + 20] reach double precision.
    """
    x = np.asarray(x, float)
    results = []
    for tail, rising in ((_midp_tail_lower, True), (_midp_tail_upper, False)):
        lo = np.zeros_like(x)
        hi = x + 20 * np.sqrt(x + 1) + 20
        for _ in range(100):
            mid = (lo + hi) / 2
            above = tail(x, mid) > alpha / 2
            go_left = above if rising else ~above
            hi = np.where(go_left, mid, hi)
            lo = np.where(go_left, lo, mid)
        results.append((lo + hi) / 2)
    lower = np.where(x > 0, results[0], 0.0)
    return lower, results[1]


def sir_midp(observed: ArrayLike, predicted: ArrayLike, level: float = 0.95) -> SirResult:
    """NHSN standardized infection ratio (observed / predicted) with mid-P exact interval.

    NHSN rules (SIR Guide): no SIR, interval or p-value when predicted < 1.0; the lower bound is
    not calculated (NaN) when observed = 0. The two-sided p-value tests SIR = 1 with the mid-P
    method: 2·min(P(X<O)+½P(X=O), P(X>O)+½P(X=O)) under Poisson(predicted), capped at 1.
    """
    scalar = _is_scalar(observed, predicted)
    o, e = np.broadcast_arrays(np.asarray(observed, float), np.asarray(predicted, float))
    _check_oe(o, e)
    if np.any(o != np.round(o)):
        raise ValueError("observed infections must be whole numbers")
    alpha = 1 - level
    _z(level)
    calc = e >= 1.0  # NHSN: no SIR when predicted < 1 (NaN predicted is not >= 1 either)
    sir = np.where(calc, o / np.where(calc, e, 1.0), np.nan)
    # Limits depend on the count only: solve once per distinct count.
    counts, inverse = np.unique(o[calc], return_inverse=True)
    lo_c, hi_c = _midp_count_limits(counts, alpha)
    lo = np.full(o.shape, np.nan)
    hi = np.full(o.shape, np.nan)
    lo[calc] = np.where(o[calc] > 0, lo_c[inverse] / e[calc], np.nan)
    hi[calc] = hi_c[inverse] / e[calc]
    pv = np.full(o.shape, np.nan)
    tails = np.minimum(_midp_tail_upper(o[calc], e[calc]), _midp_tail_lower(o[calc], e[calc]))
    pv[calc] = np.minimum(1.0, 2 * tails)
    if scalar:
        return SirResult(float(o), float(e), float(sir), float(lo), float(hi), float(pv))
    return SirResult(o, e, sir, lo, hi, pv)
