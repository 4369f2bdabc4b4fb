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

Positions (``freeze``, ``exclude``, break points in ``part``) count subgroups from 1, as in
qicharts2 and on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

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
# Each takes one part (a frame of subgroups) and returns it with y, cl and sigma distances
# ("s" = one standard deviation per point, or explicit limits for charts that are not ± k s).


def _base(d: pd.DataFrame) -> np.ndarray:
    return (d["baseline"] & d["include"]).to_numpy()


def _mean_mr(values: np.ndarray) -> float:
    """Average moving range, screened: ranges above D4 × the first average are dropped."""
    mr = np.abs(np.diff(values))
    mr = mr[~np.isnan(mr)]
    if mr.size == 0:
        return float("nan")
    amr = mr.mean()
    kept = mr[mr < D4 * amr]
    return float(kept.mean()) if kept.size else float(amr)


def _set_limits(d: pd.DataFrame, cl: Any, sd: Any, lower0: bool, upper1: bool = False) -> None:
    d["cl"] = cl
    for k, suffix in ((3, ""), (2, "_95")):
        ucl = d["cl"] + k * sd
        lcl = d["cl"] - k * sd
        if upper1:
            ucl = ucl.where(~(np.isfinite(ucl) & (ucl > 1)), 1.0)
        if lower0:
            lcl = lcl.where(~(np.isfinite(lcl) & (lcl < 0)), 0.0)
        d["ucl" + suffix] = ucl
        d["lcl" + suffix] = lcl


def _chart_run(d: pd.DataFrame, categorical: bool) -> None:
    d["cl"] = np.nanmedian(d["y"][_base(d)]) if _base(d).any() else np.nan
    for col in ("ucl", "lcl", "ucl_95", "lcl_95"):
        d[col] = np.nan


def _chart_i(d: pd.DataFrame, categorical: bool) -> None:
    base = _base(d)
    cl = np.nanmean(d["y"][base])
    sd = _mean_mr(d["y"].to_numpy()[base]) / D2
    _set_limits(d, cl, sd, lower0=False)


def _chart_mr(d: pd.DataFrame, categorical: bool) -> None:
    base = _base(d)
    y = d["y"].to_numpy()
    d["y"] = np.concatenate(([np.nan], np.abs(np.diff(y))))
    cl = np.nanmean(d["y"][base])
    d["cl"] = cl
    d["ucl"], d["lcl"] = D4 * cl, 0.0
    d["ucl_95"], d["lcl_95"] = D4 / 3 * 2 * cl, 0.0


def _pooled_sd(d: pd.DataFrame, base: np.ndarray) -> float:
    """Subgroup sigma: mean s for equal sizes (Montgomery 6.29), pooled s otherwise (6.31)."""
    size = d["y_length"].to_numpy(float)
    sd = d["y_sd"].to_numpy(float)
    if np.unique(size).size > 1:
        w = size[base] - 1
        ok = ~np.isnan(sd[base])
        return float(np.sqrt(np.sum(w[ok] * sd[base][ok] ** 2) / np.sum(w[ok])))
    return float(np.nanmean(sd[base]))


def _chart_xbar(d: pd.DataFrame, categorical: bool) -> None:
    base = _base(d)
    size = d["y_length"].to_numpy(float)
    mean = d["y_mean"].to_numpy(float)
    ok = base & ~np.isnan(mean)
    cl = np.sum(size[ok] * mean[ok]) / np.sum(size[ok])
    sigma = _pooled_sd(d, base)
    d["cl"] = cl
    for k, suffix in ((3, ""), (2, "_95")):
        a3 = _a3(size, k)
        d["ucl" + suffix] = cl + a3 * sigma
        d["lcl" + suffix] = cl - a3 * sigma


def _chart_s(d: pd.DataFrame, categorical: bool) -> None:
    base = _base(d)
    size = d["y_length"].to_numpy(float)
    d["y"] = d["y_sd"]
    cl = _pooled_sd(d, base)
    d["cl"] = cl
    for k, suffix in ((3, ""), (2, "_95")):
        b3, b4 = _b3_b4(size, k)
        d["ucl" + suffix] = b4 * cl
        d["lcl" + suffix] = b3 * cl


def _chart_t(d: pd.DataFrame, categorical: bool) -> None:
    y = d["y"].to_numpy(float)
    if np.nanmin(y) <= 0:
        raise ValueError("a T chart needs times between events greater than zero")
    d["y"] = y ** (1 / 3.6)
    _chart_i(d, categorical)
    with np.errstate(invalid="ignore"):
        for col in ("y", "cl", "ucl", "lcl", "ucl_95", "lcl_95"):
            d[col] = np.power(d[col].to_numpy(float), 3.6)
    for col in ("lcl", "lcl_95"):
        d[col] = d[col].fillna(0.0).clip(lower=0.0)


def _proportion_cl(d: pd.DataFrame) -> float:
    base = _base(d)
    return float(np.nansum(d["y_sum"][base]) / np.nansum(d["n"][base]))


def _laney_sigma_z(d: pd.DataFrame, sd: np.ndarray, categorical: bool) -> float:
    """Laney's sigma_z: moving-range sd of the baseline z-scores (plain sd for categories)."""
    base = _base(d)
    with np.errstate(divide="ignore", invalid="ignore"):  # sd is 0 when cl is 0 or 1
        z = (d["y"].to_numpy(float)[base] - d["cl"].to_numpy(float)[base]) / sd[base]
    if categorical:
        return float(np.nanstd(z, ddof=1))
    return _mean_mr(z) / D2


def _chart_p(d: pd.DataFrame, categorical: bool) -> None:
    cl = _proportion_cl(d)
    sd = np.sqrt(cl * (1 - cl) / d["n"].to_numpy(float))
    _set_limits(d, cl, sd, lower0=True, upper1=True)


def _chart_pprime(d: pd.DataFrame, categorical: bool) -> None:
    cl = _proportion_cl(d)
    d["cl"] = cl
    sd = np.sqrt(cl * (1 - cl) / d["n"].to_numpy(float))
    sd = sd * _laney_sigma_z(d, sd, categorical)
    _set_limits(d, cl, sd, lower0=True, upper1=True)


def _chart_c(d: pd.DataFrame, categorical: bool) -> None:
    d["y"] = d["y_sum"]
    cl = float(np.nanmean(d["y"][_base(d)]))
    _set_limits(d, cl, np.sqrt(cl), lower0=True)


def _chart_u(d: pd.DataFrame, categorical: bool) -> None:
    cl = _proportion_cl(d)
    _set_limits(d, cl, np.sqrt(cl / d["n"].to_numpy(float)), lower0=True)


def _chart_uprime(d: pd.DataFrame, categorical: bool) -> None:
    cl = _proportion_cl(d)
    d["cl"] = cl
    sd = np.sqrt(cl / d["n"].to_numpy(float))
    sd = sd * _laney_sigma_z(d, sd, categorical)
    _set_limits(d, cl, sd, lower0=True)


def _chart_g(d: pd.DataFrame, categorical: bool) -> None:
    base = _base(d)
    mean = float(np.nanmean(d["y"][base]))
    _set_limits(d, mean, np.sqrt(mean * (mean + 1)), lower0=True)
    # The centre line shown is the median: the geometric distribution is skewed, so the mean
    # would put most points below it and break the runs rules (qicharts2; Provost 2011 p. 228).
    d["cl"] = float(np.nanmedian(d["y"][base]))


LIMITS: dict[str, Callable[[pd.DataFrame, bool], None]] = {
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


def _aggregate(frame: pd.DataFrame, got_n: bool, chart: str) -> pd.DataFrame:
    """One row per subgroup x (sorted by x, as qicharts2's split does)."""
    g = frame.groupby("x", sort=True, observed=True, dropna=True)["y"]
    out = pd.DataFrame(
        {
            "y_sum": g.sum(min_count=1),
            "y_length": g.count(),
            "y_mean": g.mean(),
            "y_sd": g.std(ddof=1),
        }
    )
    if got_n:
        out["n"] = frame.groupby("x", sort=True, observed=True, dropna=True)["n"].sum(min_count=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # A subgroup with n = 0 has no rate (NaN), not an infinite one.
            out["y"] = (out["y_sum"] / out["n"]).where(out["n"] > 0)
    else:
        out["n"] = np.nan
        out["y"] = out["y_mean"]
    out.index.name = "x"
    return out.reset_index()


def _parts(part: Any, n_points: int, first_label: pd.Series | None) -> np.ndarray:
    """Part number (1, 2, ...) for each subgroup from break points or per-subgroup labels."""
    if first_label is not None:
        labels = first_label.to_numpy()
        change = np.concatenate(([True], labels[1:] != labels[:-1]))
        return np.cumsum(change)
    breaks = [] if part is None else sorted({int(b) for b in np.atleast_1d(part)})
    breaks = [b for b in breaks if 0 < b < n_points]
    edges = [0, *breaks, n_points]
    return np.repeat(np.arange(1, len(edges)), np.diff(edges))


def _positions(values: Any) -> set[int]:
    if values is None:
        return set()
    return {int(v) for v in np.atleast_1d(values)}


def _validate(y: pd.Series, n: pd.Series | None, chart: str) -> None:
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; choose one of {', '.join(CHARTS)}")
    if chart in NEEDS_N and n is None:
        raise ValueError(f"a {chart} chart needs a denominator n")
    if chart in {"c", "u", "uprime", "p", "pprime", "g", "t"} and (y < 0).any():
        raise ValueError(f"a {chart} chart needs values that are not negative")
    if n is not None and (n < 0).any():
        raise ValueError("denominators must not be negative")
    if chart in {"p", "pprime"} and n is not None and (y > n).any():
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
) -> pd.DataFrame:
    """Control (or run) chart of y, qicharts2's ``qic()`` semantics; one row per subgroup.

    Args:
        y: values (i, mr, xbar, s, t, g, run), counts (c), or numerators (p, p′, u, u′).
        n: denominators for p, p′, u, u′ (and optional for run/i: then y is sum(y)/sum(n)).
        chart: one of ``CHARTS``.
        x: subgroup of each value; rows sharing an x are aggregated (sum over n when n is
            given, else mean; xbar/s use the subgroup's mean and standard deviation). Default
            1..len(y). Categorical x (text) gives dots only: no runs analysis, as qicharts2.
        freeze: the first ``freeze`` subgroups are the baseline for the centre line and
            limits (counted across parts, as qicharts2).
        part: break points (subgroup numbers after which the chart is recalculated, e.g. 30)
            or a sequence as long as y of phase labels; a new part starts where the label
            changes.
        exclude: subgroup numbers (from 1) left out of the centre line, limits and runs
            analysis; they are still plotted and can still be sigma signals.
        multiply: scale y, cl and limits (e.g. 100 for percent, 10000 for per 10,000 days).

    Returns:
        DataFrame with x, y, n, cl, ucl, lcl (3 sigma), ucl_95, lcl_95 (2 sigma), part,
        baseline, include, n_obs, n_useful, longest_run, longest_run_max, n_crossings,
        n_crossings_min, runs_signal, sigma_signal and the subgroup aggregates y_sum, y_length,
        y_mean, y_sd. ``df.attrs`` holds chart, multiply and categorical.
    """
    y_s = pd.Series(np.asarray(y, float) if not isinstance(y, pd.Series) else y.astype(float))
    y_s = y_s.reset_index(drop=True)
    n_s = None if n is None else pd.Series(np.asarray(n, float)).reset_index(drop=True)
    if n_s is not None and len(n_s) != len(y_s):
        raise ValueError("y and n must have the same length")
    _validate(y_s, n_s, chart)
    x_s = (
        pd.Series(np.arange(1, len(y_s) + 1))
        if x is None
        else (x.reset_index(drop=True) if isinstance(x, pd.Series) else pd.Series(list(x)))
    )
    if len(x_s) != len(y_s):
        raise ValueError("x and y must have the same length")
    frame = pd.DataFrame({"x": x_s, "y": y_s})
    if n_s is not None:
        # qicharts2 blanks both y and n where either is missing (complete cases).
        missing = frame["y"].isna() | n_s.isna()
        frame["y"] = frame["y"].mask(missing)
        frame["n"] = n_s.mask(missing)
    categorical = _is_categorical(frame["x"])
    d = _aggregate(frame, n_s is not None, chart)
    labels = None
    if part is not None and np.ndim(part) > 0 and len(part) == len(y_s) and len(y_s) > 1:
        frame["label"] = list(part)
        labels = frame.groupby("x", sort=True, observed=True)["label"].first()
    d["part"] = _parts(part, len(d), labels)
    position = np.arange(1, len(d) + 1)
    d["baseline"] = position <= (freeze if freeze is not None else len(d))
    d["include"] = ~np.isin(position, list(_positions(exclude)))
    pieces = [_one_part(p.copy(), chart, categorical) for _, p in d.groupby("part", sort=True)]
    d = pd.concat(pieces, ignore_index=True)
    for col in ("y", "cl", "ucl", "lcl", "ucl_95", "lcl_95"):
        d[col] = d[col].astype(float) * multiply
        if col != "y":
            d[col] = d[col].where(np.isfinite(d[col]))
    d["sigma_signal"] = ((d["y"] > d["ucl"]) | (d["y"] < d["lcl"])).fillna(False).astype(bool)
    if categorical or chart == "mr":
        d["runs_signal"] = False
    d = d[COLUMNS]
    d.attrs.update(chart=chart, multiply=multiply, categorical=categorical)
    return d


def _one_part(d: pd.DataFrame, chart: str, categorical: bool) -> pd.DataFrame:
    d = d.reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # n = 0 or empty baselines: NaN
        LIMITS[chart](d, categorical)
    inc = d["include"].to_numpy()
    runs = runs_analysis(d["y"].to_numpy(float)[inc], d["cl"].to_numpy(float)[inc])
    d["n_obs"] = int(inc.sum())
    for key, value in runs.items():
        d[key] = value
    return d


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
