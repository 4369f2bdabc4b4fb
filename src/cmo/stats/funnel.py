"""Funnel plots for comparing units once volume is accounted for.

Sources:
- Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
  2005;24:1185-1202 (exact binomial limits with interpolation, appendix A.1.1; overdispersion
  by a multiplicative or additive random-effects model on winsorised z-scores, sections 3-4).
- Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, et al. Statistical methods for healthcare
  regulation: rating, screening and surveillance. J R Stat Soc A 2012;175:1-47 (the CQC
  method: square-root transform, 10% winsorisation, additive τ²).
- NHS Digital. Summary Hospital-level Mortality Indicator (SHMI) methodology (log transform,
  z-scores of the 10% most extreme trusts at each end truncated before estimating φ and τ²).
- Mainey C, et al. FunnelPlotR (R package, nhs-r-community/FunnelPlotR), whose exact Poisson
  limits for O/E we reproduce: lower = χ²(a/2; 2E)/2E, upper = χ²(1-a/2; 2(E+1))/2E.

Where the sources differ: FunnelPlotR's CQC τ² divides by Σw - Σ(1/S)/Σw, which is not the
DerSimonian-Laird denominator; we use Σw - Σw²/Σw (Spiegelhalter 2005 eq. 7) for both methods.
Proportions are always adjusted on the arcsine-square-root scale (Spiegelhalter 2005, §4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

LEVELS = {"95": 0.95, "99_8": 0.998}
OD_METHODS = ("shmi", "cqc")
TRIM = 0.1  # 10% at each end, SHMI and CQC alike


def binomial_limits(target: float, n: Any, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial funnel limits for a proportion at denominator n (Spiegelhalter 2005, A.1.1).

    The p-quantile r of Binomial(n, target) is interpolated to a continuous limit
    (r - α)/n with α = (F(r) - p) / (F(r) - F(r - 1)), so the funnel is smooth in n.
    """
    n = np.asarray(n, float)
    out = []
    # At tiny n the interpolated quantile can cross the target (n = 1, p = 0.02: the upper
    # 97.5% quantile is 0 events); keep the funnel around its target there.
    for p, bound in (((1 - level) / 2, np.minimum), (1 - (1 - level) / 2, np.maximum)):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = stats.binom.ppf(p, n, target)
            f_r = stats.binom.cdf(r, n, target)
            f_prev = stats.binom.cdf(r - 1, n, target)
            alpha = np.where(f_r > f_prev, (f_r - p) / (f_r - f_prev), 0.0)
            limit = bound(np.clip((r - alpha) / n, 0.0, 1.0), target)
        out.append(np.where(n > 0, limit, np.nan))
    return out[0], out[1]


def poisson_limits(expected: Any, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson funnel limits for O/E at E (Spiegelhalter 2005; FunnelPlotR's formula)."""
    e = np.asarray(expected, float)
    a = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = stats.chi2.ppf(a / 2, 2 * e) / (2 * e)
        hi = stats.chi2.ppf(1 - a / 2, 2 * (e + 1)) / (2 * e)
    return np.where(e > 0, lo, np.nan), np.where(e > 0, hi, np.nan)


def funnel_limits(
    size: Any,
    *,
    kind: str,
    target: float,
    level: float,
    od: str | None = None,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Funnel limits at denominators (kind='proportion') or expected counts (kind='ratio').

    Exact limits when τ² = 0; otherwise target ± z·sqrt(s² + τ²) on the od method's scale
    (arcsine for proportions; log for SHMI and square root for CQC ratios), back-transformed.
    Used by funnel() for the units and by the chart for the smooth funnel curves.
    """
    size = np.asarray(size, float)
    if tau2 > 0:
        method = od or "shmi"
        _, s, t = _transform(np.zeros_like(size), size, kind, method, target)
        half = stats.norm.ppf(1 - (1 - level) / 2) * np.sqrt(s**2 + tau2)
        return _back(t - half, kind, method), _back(t + half, kind, method)
    if kind == "proportion":
        return binomial_limits(target, size, level)
    return poisson_limits(size, level)


def _transform(
    num: np.ndarray, size: np.ndarray, kind: str, od: str, target: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """(y, s, target) on the variance-stabilising scale for the overdispersion model."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "proportion":
            return (
                np.arcsin(np.sqrt(num / size)),
                1 / (2 * np.sqrt(size)),
                np.arcsin(np.sqrt(target)),
            )
        if od == "shmi":
            return np.log(num / size), 1 / np.sqrt(size), np.log(target)
        return np.sqrt(num / size), 1 / (2 * np.sqrt(size)), np.sqrt(target)


def _back(value: np.ndarray, kind: str, od: str) -> np.ndarray:
    if kind == "proportion":
        return np.sin(np.clip(value, 0, np.pi / 2)) ** 2
    if od == "shmi":
        return np.exp(value)
    return np.clip(value, 0, None) ** 2


def overdispersion(z: np.ndarray, s: np.ndarray, od: str) -> tuple[float, float, np.ndarray]:
    """(φ, τ², used) from unadjusted z-scores: SHMI truncates, CQC winsorises 10% each end.

    φ = Σz²/k over the k z-scores used; τ² = max(0, (kφ - (k-1)) / (Σw - Σw²/Σw)), w = 1/s²
    (DerSimonian-Laird moment estimate, Spiegelhalter 2005 eq. 7); τ² = 0 when kφ ≤ k - 1.
    """
    ok = np.isfinite(z)
    if ok.sum() < 2:
        return float("nan"), 0.0, ok
    lz, uz = np.quantile(z[ok], [TRIM, 1 - TRIM])
    if od == "shmi":
        used = ok & (z > lz) & (z < uz)
        zw = z[used]
    else:
        used = ok
        zw = np.clip(z[ok], lz, uz)
    k = zw.size
    if k < 2:
        return float("nan"), 0.0, used
    phi = float(np.sum(zw**2) / k)
    w = 1 / s[used] ** 2
    if k * phi <= k - 1:
        return phi, 0.0, used
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, float(tau2), used


def _exact_tails(
    num: np.ndarray, size: np.ndarray, kind: str, target: float
) -> tuple[np.ndarray, np.ndarray]:
    """P(X ≤ observed) and P(X ≥ observed) under the target (binomial or Poisson).

    The drawn limits are continuous (interpolated, or FunnelPlotR's χ² formula), and a unit
    with 0 events always lies below a lower limit > 0, however small its expected count: with
    E = 0.05, seeing 0 events has probability 0.95. A unit is flagged only when its count is
    also improbable under the exact discrete distribution (Spiegelhalter 2005, §2: the limits
    are p-value contours), so tiny units are never flagged for a count chance explains.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "proportion":
            return stats.binom.cdf(num, size, target), stats.binom.sf(num - 1, size, target)
        mean = size * target
        return stats.poisson.cdf(num, mean), stats.poisson.sf(num - 1, mean)


def funnel(
    numerator: Any,
    denominator: Any = None,
    *,
    expected: Any = None,
    labels: Any = None,
    od: str | None = None,
    target: float | None = None,
    od_use: Any = None,
) -> pd.DataFrame:
    """Funnel plot table: one row per unit with its exact 95% and 99.8% limits and outlier flags.

    Give ``denominator`` for proportions (numerator/denominator against the overall proportion,
    exact binomial limits) or ``expected`` for indirectly standardised ratios (O/E against 1,
    exact Poisson limits). Rows sharing a label are summed first (FunnelPlotR's aggregation).
    ``od='shmi'|'cqc'`` widens the limits for overdispersion with an additive random effect
    τ² when φ shows more spread than chance (else the exact limits are kept).

    Returns columns label, numerator, denominator|expected, ratio_or_rate, target, lcl_95,
    ucl_95, lcl_99_8, ucl_99_8, outlier_95, outlier_99_8 (True outside the limits), direction
    ('high', 'low' or '' at 95%), plus z (adjusted z-score), phi, tau2, used_for_od when od is
    set; p_value: the two-sided p of the unit's count under the target, the larger of the exact
    (binomial or Poisson, 2·min(P(X ≤ O), P(X ≥ O))) and, when τ² > 0, the normal p of the
    adjusted z, so ``p_value < 1 - level`` agrees with the flags. ``od_use`` (booleans, one
    per unit after grouping) limits the units φ and τ² are estimated from (small cells are
    left out by the measures build); every unit still gets limits. ``df.attrs`` holds kind,
    target, phi and tau2.
    """
    if (denominator is None) == (expected is None):
        raise ValueError("give exactly one of denominator (proportions) or expected (O/E)")
    if od is not None and od not in OD_METHODS:
        raise ValueError(f"od must be one of {', '.join(OD_METHODS)}")
    kind = "proportion" if denominator is not None else "ratio"
    size_name = "denominator" if kind == "proportion" else "expected"
    num = np.asarray(numerator, float)
    size = np.asarray(denominator if denominator is not None else expected, float)
    if num.shape != size.shape or num.ndim != 1:
        raise ValueError(f"numerator and {size_name} must be 1-d and of the same length")
    if np.any(num < 0) or np.any(size < 0):
        raise ValueError(f"numerator and {size_name} must not be negative")
    if kind == "proportion" and np.any(num > size):
        raise ValueError("numerators must not exceed their denominators")
    lab = np.arange(1, num.size + 1) if labels is None else np.asarray(labels)
    d = (
        pd.DataFrame({"label": lab, "numerator": num, size_name: size})
        .groupby("label", sort=False, as_index=False)
        .sum()
    )
    num, size = d["numerator"].to_numpy(float), d[size_name].to_numpy(float)
    if target is None:
        target = float(num.sum() / size.sum()) if kind == "proportion" else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        d["ratio_or_rate"] = num / size
    d["target"] = target
    phi, tau2 = float("nan"), 0.0
    if od is not None:
        y, s, t = _transform(num, size, kind, od, target)
        z0 = (y - t) / s
        if od_use is not None:
            mask = np.asarray(od_use, bool)
            z0 = np.where(mask, z0, np.nan)
        phi, tau2, used = overdispersion(z0, s, od)
        d["used_for_od"] = used
        d["z"] = (y - t) / np.sqrt(s**2 + tau2)
        d["phi"], d["tau2"] = phi, tau2
    p_low, p_high = _exact_tails(num, size, kind, target)
    p_value = np.minimum(1.0, 2 * np.minimum(p_low, p_high))
    if tau2 > 0:
        p_value = np.maximum(p_value, 2 * stats.norm.sf(np.abs(d["z"].to_numpy(float))))
    d["p_value"] = np.where(size > 0, p_value, np.nan)
    for name, level in LEVELS.items():
        lo, hi = funnel_limits(size, kind=kind, target=target, level=level, od=od, tau2=tau2)
        d[f"lcl_{name}"], d[f"ucl_{name}"] = lo, hi
        rate = d["ratio_or_rate"]
        half = (1 - level) / 2
        low = (rate < lo) & (p_low < half)
        high = (rate > hi) & (p_high < half)
        d[f"outlier_{name}"] = (low | high).fillna(False).astype(bool)
    rate = d["ratio_or_rate"]
    d["direction"] = np.where(
        d["outlier_95"] & (rate > d["ucl_95"]),
        "high",
        np.where(d["outlier_95"] & (rate < d["lcl_95"]), "low", ""),
    )
    d.attrs.update(kind=kind, target=target, phi=phi, tau2=tau2, od=od)
    return d
