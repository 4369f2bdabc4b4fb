"""Run charts and Shewhart control charts with the Anhøj runs rules, following qicharts2.

The semantics (aggregation of rows into subgroups, baseline freeze, excluded points, parts,
centre line and limit formulas, runs analysis, signals) follow the R package qicharts2
(Anhøj J, anhoej/qicharts2 on CRAN) so that results are comparable with what analysts get in R:

- Runs analysis: Anhøj J, Olesen AV. Run charts revisited: a simulation study of run chart
  rules for detection of non-random variation in health care processes. PLoS One
  2014;9(11):e113825. Points on the centre line are not useful; the longest run is unusually
  long when it exceeds round(log2(n)) + 3 (Schilling 2012); there are unusually few crossings
  when they fall below the 5th percentile of Binomial(n - 1, 0.5) (Chen 2010).
- Shewhart charts: Montgomery DC. Introduction to Statistical Quality Control, 6th ed., 2009
  (I/MR eq. 6.33 with d2 = 1.128 and D4 = 3.267; Xbar and S eq. 6.29-6.31 with c4; p eq. 7.7;
  c eq. 7.17; u eq. 7.19; g p. 319). Moving ranges above 3.267 × the average moving range are
  screened out before estimating sigma (Nelson 1982), qicharts2's default
  (`qic.screenedmr = TRUE`).
- T chart: Nelson LS. A control chart for parts-per-million nonconforming items. J Qual
  Technol 1994;26:239-240 (times between events transformed by y^(1/3.6), I chart, back).
- Laney p′ and u′: Laney DB. Improved control charts for attributes. Qual Eng 2002;14:531-537
  (sigma inflated by the moving-range standard deviation of the z-scores).
- Probability limits (``limits="probability"``, not a qicharts2 option): for p, c and u charts,
  the limits are the 0.135% and 99.865% quantiles (2.275% / 97.725% for the "95%" pair: the
  tails of 3 and 2 sigma) of the count's own distribution, Binomial(n, p̄) or Poisson(n ū),
  expressed on the chart's scale (Montgomery 2009, ch. 6-7, "probability limits" of attribute
  charts; Provost & Murray, The Health Care Data Guide, 2011, on charts of rare events; the
  exact Poisson test NHSN uses for SIRs). With a handful of expected events a month, 3-sigma limits
  assume a symmetric normal count and flag a point about twice as often as 0.135% (a
  Poisson(5) count reaches 12, above 5 + 3√5, with probability 0.55%); the quantiles keep
  each tail at or below its level. A point signals when its count is beyond a quantile.
  For I charts, whose sigma is estimated from the chart's own m points, the probability limits
  are cl ± k(m) sigma, with k(m) the factor that gives normal data a per-point tail of 0.135%
  (2.275%) under the same estimator (mean, screened moving ranges), found once per m by a
  seeded simulation: the unconditional in-control performance of Jensen et al., J Qual Technol
  2006;38:349-364, and Goedhart, Schoonhoven & Does, J Qual Technol 2017;49:155-171 (3 sigma
  from 24 points flags ~0.24% of normal points above the upper limit, not 0.135%).

Positions (``freeze``, ``exclude``, break points in ``part``) count subgroups from 1, as in
qicharts2 and on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

LIMITS_METHODS = ("sigma", "probability")
# Charts of counts whose probability limits come from the count's distribution.
PROBABILITY_CHARTS = frozenset({"p", "c", "u", "i"})
I_FACTOR_SIMULATIONS = 40000  # normal series per m for k(m): its 0.135% tail holds ~100 points
SIGMA_TAILS = {"": 0.00134990, "_95": 0.02275013}  # one-sided tails of 3 and 2 sigma

CHARTS = ("run", "i", "mr", "xbar", "s", "t", "p", "pprime", "c", "u", "uprime", "g")
CHART_NAMES = {
    "run": "Run chart",
    "i": "I chart (individuals)",
    "mr": "MR chart (moving ranges)",
    "xbar": "Xbar chart (subgroup means)",
    "s": "S chart (subgroup standard deviations)",
    "t": "T chart (time between rare events)",
    "p": "P chart (proportions)",
    "pprime": "P′ chart (Laney, proportions with overdispersion)",
    "c": "C chart (counts)",
    "u": "U chart (rates)",
    "uprime": "U′ chart (Laney, rates with overdispersion)",
    "g": "G chart (opportunities between rare events)",
}
# Charts whose y is a count over a denominator n (n required).
NEEDS_N = frozenset({"p", "pprime", "u", "uprime"})
# Fewest subgroups that give a chart its limits (a moving range needs two points; an MR chart
# needs two ranges); the CLI refuses fewer.
MIN_POINTS = {c: 2 for c in CHARTS} | {"mr": 3, "pprime": 3, "uprime": 3, "run": 2}

D2 = 1.128  # d2 for moving ranges of two points (Montgomery Appendix VI)
D4 = 3.267  # D4 for moving ranges of two points

COLUMNS = [
    "x",
    "y",
    "n",
    "cl",
    "ucl",
    "lcl",
    "ucl_95",
    "lcl_95",
    "part",
    "baseline",
    "include",
    "n_obs",
    "n_useful",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "runs_signal",
    "sigma_signal",
    "y_sum",
    "y_length",
    "y_mean",
    "y_sd",
]


# --------------------------------------------------------------------------- runs analysis


def anhoej_limits(n_useful: int) -> tuple[int, int]:
    """(longest_run_max, n_crossings_min) for n useful points (Anhøj & Olesen 2014)."""
    if n_useful < 1:
        raise ValueError("the runs rules need at least one useful point")
    longest_max = int(np.round(np.log2(n_useful))) + 3
    crossings_min = int(stats.binom.ppf(0.05, n_useful - 1, 0.5))
    return longest_max, crossings_min


def runs_analysis(y: Any, cl: Any) -> dict[str, Any]:
    """Anhøj runs analysis of y against its centre line; points on the line are not useful.

    Returns n_useful, longest_run, longest_run_max, n_crossings, n_crossings_min, runs_signal
    (the last five are None/False when there is no useful point).
    """
    side = np.sign(np.asarray(y, float) - np.asarray(cl, float))
    side = side[(side != 0) & ~np.isnan(side)]
    n_useful = int(side.size)
    if n_useful == 0:
        return {
            "n_useful": 0,
            "longest_run": None,
            "longest_run_max": None,
            "n_crossings": None,
            "n_crossings_min": None,
            "runs_signal": False,
        }
    changes = np.flatnonzero(np.diff(side) != 0)
    bounds = np.concatenate(([-1], changes, [n_useful - 1]))
    longest = int(np.diff(bounds).max())
    crossings = int(changes.size)
    longest_max, crossings_min = anhoej_limits(n_useful)
    return {
        "n_useful": n_useful,
        "longest_run": longest,
        "longest_run_max": longest_max,
        "n_crossings": crossings,
        "n_crossings_min": crossings_min,
        "runs_signal": bool(longest > longest_max or crossings < crossings_min),
    }


# --------------------------------------------------------------------------- chart constants


def c4(n: Any) -> np.ndarray:
    """Bias-correction constant c4(n) = sqrt(2/(n-1)) Γ(n/2)/Γ((n-1)/2); NaN for n <= 1."""
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(2 / (n - 1)) * np.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))
    return np.where(n > 1, out, np.nan)


def _a3(n: np.ndarray, k: float) -> np.ndarray:
    return k / (c4(n) * np.sqrt(n))


def _b3_b4(n: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    c = c4(n)
    c5 = np.sqrt(1 - c**2)
    return np.maximum(0, 1 - k * c5 / c), 1 + k * c5 / c


# --------------------------------------------------------------------------- limit functions
# Each takes one part as a dict of numpy arrays (one entry per subgroup) and sets y (when the
# chart plots something other than the subgroup value), cl, ucl, lcl, ucl_95 and lcl_95.
# Plain arrays rather than DataFrames: the measures build draws thousands of charts.

Part = dict[str, np.ndarray]


def _base(d: Part) -> np.ndarray:
    return d["baseline"] & d["include"]


def _full(d: Part, value: float) -> np.ndarray:
    return np.full(d["y"].shape, float(value))


def _mean_mr(values: np.ndarray) -> float:
    """Average moving range, screened: ranges above D4 × the first average are dropped."""
    mr = np.abs(np.diff(values))
    mr = mr[~np.isnan(mr)]
    if mr.size == 0:
        return float("nan")
    amr = mr.mean()
    kept = mr[mr < D4 * amr]
    return float(kept.mean()) if kept.size else float(amr)


def _nanmean(values: np.ndarray) -> float:
    ok = values[~np.isnan(values)]
    return float(ok.mean()) if ok.size else float("nan")


def _nanmedian(values: np.ndarray) -> float:
    ok = values[~np.isnan(values)]
    return float(np.median(ok)) if ok.size else float("nan")


def _set_limits(d: Part, cl: float, sd: Any, lower0: bool, upper1: bool = False) -> None:
    d["cl"] = _full(d, cl)
    for k, suffix in ((3, ""), (2, "_95")):
        ucl = d["cl"] + k * np.asarray(sd, float)
        lcl = d["cl"] - k * np.asarray(sd, float)
        if upper1:
            ucl = np.where(np.isfinite(ucl) & (ucl > 1), 1.0, ucl)
        if lower0:
            lcl = np.where(np.isfinite(lcl) & (lcl < 0), 0.0, lcl)
        d["ucl" + suffix] = ucl * np.ones_like(d["cl"])
        d["lcl" + suffix] = lcl * np.ones_like(d["cl"])


def _chart_run(d: Part, categorical: bool) -> None:
    d["cl"] = _full(d, _nanmedian(d["y"][_base(d)]))
    for col in ("ucl", "lcl", "ucl_95", "lcl_95"):
        d[col] = _full(d, np.nan)


def _chart_i(d: Part, categorical: bool) -> None:
    base = _base(d)
    cl = _nanmean(d["y"][base])
    sd = _mean_mr(d["y"][base]) / D2
    _set_limits(d, cl, sd, lower0=False)


def _chart_mr(d: Part, categorical: bool) -> None:
    base = _base(d)
    d["y"] = np.concatenate(([np.nan], np.abs(np.diff(d["y"]))))
    cl = _nanmean(d["y"][base])
    d["cl"] = _full(d, cl)
    d["ucl"], d["lcl"] = _full(d, D4 * cl), _full(d, 0.0)
    d["ucl_95"], d["lcl_95"] = _full(d, D4 / 3 * 2 * cl), _full(d, 0.0)


def _pooled_sd(d: Part, base: np.ndarray) -> float:
    """Subgroup sigma: mean s for equal sizes (Montgomery 6.29), pooled s otherwise (6.31)."""
    size, sd = d["y_length"], d["y_sd"]
    if np.unique(size).size > 1:
        w = size[base] - 1
        ok = ~np.isnan(sd[base])
        return float(np.sqrt(np.sum(w[ok] * sd[base][ok] ** 2) / np.sum(w[ok])))
    return _nanmean(sd[base])


def _chart_xbar(d: Part, categorical: bool) -> None:
    base = _base(d)
    size, mean = d["y_length"], d["y_mean"]
    ok = base & ~np.isnan(mean)
    cl = float(np.sum(size[ok] * mean[ok]) / np.sum(size[ok]))
    sigma = _pooled_sd(d, base)
    d["cl"] = _full(d, cl)
    for k, suffix in ((3, ""), (2, "_95")):
        a3 = _a3(size, k)
        d["ucl" + suffix] = cl + a3 * sigma
        d["lcl" + suffix] = cl - a3 * sigma


def _chart_s(d: Part, categorical: bool) -> None:
    base = _base(d)
    d["y"] = d["y_sd"].copy()
    cl = _pooled_sd(d, base)
    d["cl"] = _full(d, cl)
    for k, suffix in ((3, ""), (2, "_95")):
        b3, b4 = _b3_b4(d["y_length"], k)
        d["ucl" + suffix] = b4 * cl
        d["lcl" + suffix] = b3 * cl


def _chart_t(d: Part, categorical: bool) -> None:
    if np.nanmin(d["y"]) <= 0:
        raise ValueError("a T chart needs times between events greater than zero")
    d["y"] = d["y"] ** (1 / 3.6)
    _chart_i(d, categorical)
    for col in ("y", "cl", "ucl", "lcl", "ucl_95", "lcl_95"):
        d[col] = np.power(d[col], 3.6)
    for col in ("lcl", "lcl_95"):
        d[col] = np.where(np.isnan(d[col]) | (d[col] < 0), 0.0, d[col])


def _proportion_cl(d: Part) -> float:
    base = _base(d)
    return float(np.nansum(d["y_sum"][base]) / np.nansum(d["n"][base]))


def _laney_sigma_z(d: Part, sd: np.ndarray, cl: float, categorical: bool) -> float:
    """Laney's sigma_z: moving-range sd of the baseline z-scores (plain sd for categories)."""
    base = _base(d)
    z = (d["y"][base] - cl) / sd[base]
    if categorical:
        return float(np.nanstd(z, ddof=1))
    return _mean_mr(z) / D2


def _chart_p(d: Part, categorical: bool) -> None:
    cl = _proportion_cl(d)
    _set_limits(d, cl, np.sqrt(cl * (1 - cl) / d["n"]), lower0=True, upper1=True)


def _chart_pprime(d: Part, categorical: bool) -> None:
    cl = _proportion_cl(d)
    sd = np.sqrt(cl * (1 - cl) / d["n"])
    sd = sd * _laney_sigma_z(d, sd, cl, categorical)
    _set_limits(d, cl, sd, lower0=True, upper1=True)


def _chart_c(d: Part, categorical: bool) -> None:
    d["y"] = d["y_sum"].copy()
    cl = _nanmean(d["y"][_base(d)])
    _set_limits(d, cl, np.sqrt(cl), lower0=True)


def _chart_u(d: Part, categorical: bool) -> None:
    cl = _proportion_cl(d)
    _set_limits(d, cl, np.sqrt(cl / d["n"]), lower0=True)


def _chart_uprime(d: Part, categorical: bool) -> None:
    cl = _proportion_cl(d)
    sd = np.sqrt(cl / d["n"])
    sd = sd * _laney_sigma_z(d, sd, cl, categorical)
    _set_limits(d, cl, sd, lower0=True)


def _chart_g(d: Part, categorical: bool) -> None:
    base = _base(d)
    mean = _nanmean(d["y"][base])
    _set_limits(d, mean, np.sqrt(mean * (mean + 1)), lower0=True)
    # The centre line shown is the median: the geometric distribution is skewed, so the mean
    # would put most points below it and break the runs rules (qicharts2; Provost 2011 p. 228).
    d["cl"] = _full(d, _nanmedian(d["y"][base]))


@lru_cache(maxsize=64)
def i_chart_factors(m: int) -> dict[str, float]:
    """k(m) for each of SIGMA_TAILS: the multiple of the screened moving-range sigma that puts
    that share of in-control normal points of an m-point I chart above cl + k sigma (one
    seeded simulation of I_FACTOR_SIMULATIONS series with the chart's own estimator; both
    tails pooled)."""
    if m < 3:
        return {suffix: float(stats.norm.isf(tail)) for suffix, tail in SIGMA_TAILS.items()}
    rng = np.random.default_rng(m)
    y = rng.standard_normal((I_FACTOR_SIMULATIONS, m))
    mr = np.abs(np.diff(y, axis=1))
    kept = mr < D4 * mr.mean(axis=1, keepdims=True)
    sigma = np.where(kept, mr, 0.0).sum(axis=1) / np.maximum(kept.sum(axis=1), 1) / D2
    z = np.abs(y - y.mean(axis=1, keepdims=True)) / sigma[:, None]
    return {suffix: float(np.quantile(z, 1 - 2 * tail)) for suffix, tail in SIGMA_TAILS.items()}


def _probability_limits(d: Part, chart: str) -> None:
    """Replace a p, c or u chart's limits (in place) by the quantiles of its count's
    distribution at the tails of 3 and 2 sigma: Binomial(n, p̄) for p, Poisson(n ū) for u,
    Poisson(c̄) for c; the limits are count quantiles divided by n (or counts for c), so a
    point is beyond them exactly when its count is. An I chart's: cl ± k(m) sigma."""
    cl = d["cl"]
    if chart == "i":
        base = _base(d) & ~np.isnan(d["y"])
        sd = _mean_mr(d["y"][base]) / D2
        for suffix, k in i_chart_factors(int(base.sum())).items():
            d["ucl" + suffix] = cl + k * sd
            d["lcl" + suffix] = cl - k * sd
        return
    size = np.ones_like(cl) if chart == "c" else d["n"]
    ok = np.isfinite(size) & (size > 0) & np.isfinite(cl)
    safe = np.where(ok, size, 1.0)
    for suffix, tail in SIGMA_TAILS.items():
        if chart == "p":
            trials = np.round(safe)
            p = np.clip(np.where(ok, cl, 0.0), 0.0, 1.0)
            hi = stats.binom.ppf(1 - tail, trials, p)
            lo = stats.binom.ppf(tail, trials, p)
        else:
            mu = np.where(ok, safe * cl, 0.0)
            hi = stats.poisson.ppf(1 - tail, mu)
            lo = stats.poisson.ppf(tail, mu)
        d["ucl" + suffix] = np.where(ok, hi / safe, np.nan)
        d["lcl" + suffix] = np.where(ok, lo / safe, np.nan)


LIMITS: dict[str, Callable[[Part, bool], None]] = {
    "run": _chart_run,
    "i": _chart_i,
    "mr": _chart_mr,
    "xbar": _chart_xbar,
    "s": _chart_s,
    "t": _chart_t,
    "p": _chart_p,
    "pprime": _chart_pprime,
    "c": _chart_c,
    "u": _chart_u,
    "uprime": _chart_uprime,
    "g": _chart_g,
}


# --------------------------------------------------------------------------- input handling


def _is_categorical(x: pd.Series) -> bool:
    """qicharts2 draws dots only (no runs analysis) when x is neither numbers nor dates."""
    return not (
        pd.api.types.is_numeric_dtype(x.dtype) or pd.api.types.is_datetime64_any_dtype(x.dtype)
    )


def _aggregate(x: pd.Series, y: np.ndarray, n: np.ndarray | None) -> tuple[pd.Series, Part]:
    """One entry per subgroup x, sorted by x as qicharts2's split does."""
    plain = x.is_unique and x.notna().all() and (x.is_monotonic_increasing or _is_categorical(x))
    if plain and not isinstance(x.dtype, pd.CategoricalDtype):
        # One row per subgroup already in order (the common case): no grouping needed.
        ok = ~np.isnan(y)
        d: Part = {
            "y_sum": y.copy(),
            "y_length": ok.astype(float),
            "y_mean": y.copy(),
            "y_sd": np.full(y.shape, np.nan),
        }
        xs = x.reset_index(drop=True)
        n_sum = None if n is None else n.copy()
    else:
        frame = pd.DataFrame({"x": x.reset_index(drop=True), "y": y})  # keeps category order
        if n is not None:
            frame["n"] = n
        grouped = frame.groupby("x", sort=True, observed=True, dropna=True)
        g = grouped["y"]
        d = {
            "y_sum": g.sum(min_count=1).to_numpy(float),
            "y_length": g.count().to_numpy(float),
            "y_mean": g.mean().to_numpy(float),
            "y_sd": g.std(ddof=1).to_numpy(float),
        }
        xs = pd.Series(g.sum(min_count=1).index)
        n_sum = None if n is None else grouped["n"].sum(min_count=1).to_numpy(float)
    if n_sum is not None:
        # A subgroup with n = 0 has no rate (NaN), not an infinite one.
        safe = np.where(n_sum > 0, n_sum, np.nan)
        d["n"] = n_sum
        d["y"] = d["y_sum"] / safe
    else:
        d["n"] = np.full(d["y_sum"].shape, np.nan)
        d["y"] = d["y_mean"].copy()
    return xs, d


def _parts(part: Any, n_points: int, labels: np.ndarray | None) -> np.ndarray:
    """Part number (1, 2, ...) for each subgroup from break points or per-subgroup labels."""
    if labels is not None:
        change = np.concatenate(([True], labels[1:] != labels[:-1]))
        return np.cumsum(change)
    breaks = [] if part is None else sorted({int(b) for b in np.atleast_1d(part)})
    breaks = [b for b in breaks if 0 < b < n_points]
    edges = [0, *breaks, n_points]
    return np.repeat(np.arange(1, len(edges)), np.diff(edges))


def _positions(values: Any) -> list[int]:
    if values is None:
        return []
    return sorted({int(v) for v in np.atleast_1d(values)})


def _validate(y: np.ndarray, n: np.ndarray | None, chart: str) -> None:
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; choose one of {', '.join(CHARTS)}")
    if chart in NEEDS_N and n is None:
        raise ValueError(f"a {chart} chart needs a denominator n")
    if chart in {"c", "u", "uprime", "p", "pprime", "g", "t"} and np.any(y < 0):
        raise ValueError(f"a {chart} chart needs values that are not negative")
    if n is not None and np.any(n < 0):
        raise ValueError("denominators must not be negative")
    if chart in {"p", "pprime"} and n is not None and np.any(y > n):
        raise ValueError("a p chart needs numerators no larger than their denominators")


def control_chart(
    y: Any,
    n: Any = None,
    *,
    chart: str,
    x: Any = None,
    freeze: int | None = None,
    part: Any = None,
    exclude: Sequence[int] | int | None = None,
    multiply: float = 1,
    limits: str = "sigma",
) -> pd.DataFrame:
    """Control (or run) chart of y, qicharts2's ``qic()`` semantics; one row per subgroup.

    Args:
        y: values (i, mr, xbar, s, t, g, run), counts (c), or numerators (p, p′, u, u′).
        n: denominators for p, p′, u, u′ (and optional for run/i: then y is sum(y)/sum(n)).
        chart: one of ``CHARTS``.
        x: subgroup of each value; rows sharing an x are aggregated (sum over n when n is
            given, else mean; xbar/s use the subgroup's mean and standard deviation). Default
            1..len(y). Text (categorical) x gives dots only: no runs analysis, as qicharts2;
            text keeps its order of first appearance (or a pandas Categorical's order).
        freeze: the first ``freeze`` subgroups are the baseline for the centre line and
            limits (counted across parts, as qicharts2).
        part: break points (subgroup numbers after which the chart is recalculated, e.g. 30)
            or a sequence as long as y of phase labels; a new part starts where the label
            changes.
        exclude: subgroup numbers (from 1) left out of the centre line, limits and runs
            analysis; they are still plotted and can still be sigma signals.
        multiply: scale y, cl and limits (e.g. 100 for percent, 10000 for per 10,000 days).
        limits: "sigma" (Shewhart 3 and 2 sigma, qicharts2) or "probability" (the same
            tails held exactly: count quantiles for p, c and u charts, an estimation-corrected
            factor for i charts; see the module docstring).

    Returns:
        DataFrame with x, y, n, cl, ucl, lcl (3 sigma), ucl_95, lcl_95 (2 sigma), part,
        baseline, include, n_obs, n_useful, longest_run, longest_run_max, n_crossings,
        n_crossings_min, runs_signal, sigma_signal and the subgroup aggregates y_sum, y_length,
        y_mean, y_sd. ``df.attrs`` holds chart, multiply and categorical.
    """
    y_a = np.asarray(y, float).ravel()
    n_a = None if n is None else np.asarray(n, float).ravel()
    if n_a is not None and n_a.size != y_a.size:
        raise ValueError("y and n must have the same length")
    _validate(y_a, n_a, chart)
    if limits not in LIMITS_METHODS:
        raise ValueError(f"unknown limits {limits!r}; choose one of {', '.join(LIMITS_METHODS)}")
    if limits == "probability" and chart not in PROBABILITY_CHARTS:
        raise ValueError(f"probability limits are for p, c, u and i charts, not {chart!r}")
    if x is None:
        x_s = pd.Series(np.arange(1, y_a.size + 1))
    else:
        x_s = x.reset_index(drop=True) if isinstance(x, pd.Series) else pd.Series(list(x))
    if len(x_s) != y_a.size:
        raise ValueError("x and y must have the same length")
    if n_a is not None:
        # qicharts2 blanks both y and n where either is missing (complete cases).
        missing = np.isnan(y_a) | np.isnan(n_a)
        y_a = np.where(missing, np.nan, y_a)
        n_a = np.where(missing, np.nan, n_a)
    categorical = _is_categorical(x_s)
    if categorical and not isinstance(x_s.dtype, pd.CategoricalDtype):
        # Text subgroups keep their order of first appearance (a pandas Categorical sets its
        # own order); qicharts2 would sort them alphabetically as R factor levels.
        order = [v for v in pd.unique(x_s) if pd.notna(v)]
        x_s = pd.Series(pd.Categorical(x_s, categories=order))
    xs, d = _aggregate(x_s, y_a, n_a)
    count = xs.size
    labels = None
    if part is not None and np.ndim(part) > 0 and len(part) == y_a.size and y_a.size > 1:
        first = pd.Series(list(part)).groupby(x_s, sort=True, observed=True).first()
        labels = first.to_numpy()
    d["part"] = _parts(part, count, labels)
    position = np.arange(1, count + 1)
    d["baseline"] = position <= (freeze if freeze is not None else count)
    d["include"] = ~np.isin(position, _positions(exclude))
    stats_cols: dict[str, list[Any]] = {k: [] for k in RUNS_COLUMNS}
    pieces = []
    for p in np.unique(d["part"]):
        idx = d["part"] == p
        piece = {k: v[idx].copy() for k, v in d.items()}
        runs = _one_part(piece, chart, categorical, limits)
        for k in RUNS_COLUMNS:
            stats_cols[k].append(np.repeat([runs[k]], int(idx.sum())))
        pieces.append(piece)
    out = {k: np.concatenate([piece[k] for piece in pieces]) for k in pieces[0]}
    for col in ("y", "cl", "ucl", "lcl", "ucl_95", "lcl_95"):
        out[col] = out[col].astype(float) * multiply
        if col != "y":
            out[col] = np.where(np.isfinite(out[col]), out[col], np.nan)
    with np.errstate(invalid="ignore"):
        out["sigma_signal"] = (out["y"] > out["ucl"]) | (out["y"] < out["lcl"])
    columns: dict[str, Any] = {"x": xs.to_numpy() if not categorical else xs.array}
    for k in COLUMNS[1:]:
        if k == "runs_signal":
            signal = np.concatenate(stats_cols[k]).astype(bool)
            columns[k] = signal & (not categorical) & (chart != "mr")
        elif k in RUNS_COLUMNS:
            values = np.concatenate(stats_cols[k])
            columns[k] = pd.array(values, dtype="Int64") if k != "n_obs" else values
        else:
            columns[k] = out[k]
    frame = pd.DataFrame(columns)  # built once: column-by-column inserts cost 10× more
    frame.attrs.update(chart=chart, multiply=multiply, categorical=categorical, limits=limits)
    return frame


RUNS_COLUMNS = (
    "n_obs",
    "n_useful",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "runs_signal",
)


def _one_part(d: Part, chart: str, categorical: bool, limits: str = "sigma") -> dict[str, Any]:
    """Centre line and limits of one part (in place) and its runs analysis."""
    with np.errstate(divide="ignore", invalid="ignore"):  # n = 0 or empty baselines: NaN
        LIMITS[chart](d, categorical)
        if limits == "probability":
            _probability_limits(d, chart)
    inc = d["include"]
    runs = runs_analysis(d["y"][inc], d["cl"][inc])
    runs["n_obs"] = int(inc.sum())
    return runs


def run_chart(
    y: Any,
    x: Any = None,
    *,
    n: Any = None,
    freeze: int | None = None,
    part: Any = None,
    exclude: Sequence[int] | int | None = None,
    multiply: float = 1,
) -> pd.DataFrame:
    """Run chart: the median as centre line and the Anhøj runs rules (see control_chart)."""
    return control_chart(
        y, n, chart="run", x=x, freeze=freeze, part=part, exclude=exclude, multiply=multiply
    )


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per part, as qicharts2's ``summary.qic``: average limits and signal counts."""
    rows = []
    for p, d in df.groupby("part", sort=True):
        first = d.iloc[0]
        rows.append(
            {
                "part": p,
                "n_obs": first["n_obs"],
                "n_useful": first["n_useful"],
                "longest_run": first["longest_run"],
                "longest_run_max": first["longest_run_max"],
                "n_crossings": first["n_crossings"],
                "n_crossings_min": first["n_crossings_min"],
                "runs_signal": bool(d["runs_signal"].any()),
                "alcl": d["lcl"].mean(),
                "cl": d["cl"].mean(),
                "aucl": d["ucl"].mean(),
                "sigma_signal": int(d["sigma_signal"].sum()),
            }
        )
    return pd.DataFrame(rows)
