"""Logistic risk models for IMORT, MORT30 and READM30, fitted once, applied anywhere.

Covariates (after the CMS/Yale CORE hospital-wide models and Elixhauser-based mortality models,
van Walraven C, et al. Med Care 2009;47:626-33): age band (18-44 reference, 45-64, 65-74,
75-84, 85+), sex, emergency/urgent admission, the Elixhauser categories (Quan 2005 map) present
in at least ``MIN_FLAG_COUNT`` stays of the fitting data, and the principal diagnosis' body
system (the ICD-10-CM chapter named by its AHRQ CCSR body-system code: CIR, RSP, ...; rare
systems pooled into OTH). The model is fitted on the reference window (default: all data) in
Python on a pandas frame sorted by stay id, so every engine gets the same coefficients; the
fitted model (terms, levels, coefficients) is a JSON-able dict that can be saved and reused.

Expected = sum of predicted probabilities; O/E with an exact Poisson 95% CI
(``cmo.stats.intervals.poisson_oe``); risk-standardised rate = O/E x reference rate.

A model may carry ``extras``: further 0/1 covariates the scoring frame holds by name (the ICU
model's severity markers, :mod:`cmo.measures.icu`), appended after the Elixhauser flags.

Validation (:func:`validation`): C-statistic (Hanley & McNeil, Radiology 1982;143:29-36),
calibration slope (Cox DR, Biometrika 1958;45:562-5: the slope of a logistic regression of the
outcome on the model's linear predictor) and calibration intercept (calibration-in-the-large:
the intercept of that regression with the linear predictor as an offset; Steyerberg EW,
Clinical Prediction Models, 2nd ed. 2019, ch. 15; Van Calster B, et al. J Clin Epidemiol
2016;74:167-76), with the decile table. The model card reports them on the data after the
fitting window (out-of-time validation, Steyerberg 2019 ch. 17; the CMS hybrid hospital-wide
mortality methodology report validates its model on a later year the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from cmo import terminology
from cmo.stats.threads import one_blas_thread

AGE_BANDS = ((18, "18-44"), (45, "45-64"), (65, "65-74"), (75, "75-84"), (85, "85+"))
MIN_FLAG_COUNT = 20
MIN_LEVEL_COUNT = 50
MAX_FIT_ROWS = 100_000  # larger reference windows are fitted on a deterministic random sample

# ICD-10-CM chapters -> AHRQ CCSR body-system codes (CCSR v2024 uses these three-letter prefixes).
BODY_SYSTEMS = (
    ("A00", "B99", "INF"),
    ("C00", "D49", "NEO"),
    ("D50", "D89", "BLD"),
    ("E00", "E89", "END"),
    ("F01", "F99", "MBD"),
    ("G00", "G99", "NVS"),
    ("H00", "H59", "EYE"),
    ("H60", "H95", "EAR"),
    ("I00", "I99", "CIR"),
    ("J00", "J99", "RSP"),
    ("K00", "K95", "DIG"),
    ("L00", "L99", "SKN"),
    ("M00", "M99", "MUS"),
    ("N00", "N99", "GEN"),
    ("O00", "O9A", "PRG"),
    ("P00", "P96", "PNL"),
    ("Q00", "Q99", "MAL"),
    ("R00", "R99", "SYM"),
    ("S00", "T88", "INJ"),
    ("V00", "Y99", "EXT"),
    ("Z00", "Z99", "FAC"),
)


_BS_LO = np.array([lo for lo, _hi, _n in BODY_SYSTEMS])
_BS_HI = np.array([hi for _lo, hi, _n in BODY_SYSTEMS])
_BS_NAME = np.array([n for _lo, _hi, n in BODY_SYSTEMS] + ["UNK"], dtype=object)


def body_system(codes: pd.Series) -> pd.Series:
    """Principal-diagnosis body system from the first three characters of the ICD-10-CM code."""
    head = codes.fillna("").astype(str).str.slice(0, 3).str.upper().to_numpy(dtype=str)
    idx = np.searchsorted(_BS_LO, head, side="right") - 1
    ok = (idx >= 0) & (head <= _BS_HI[np.clip(idx, 0, None)])
    out = np.where(ok, idx, len(BODY_SYSTEMS))
    return pd.Series(_BS_NAME[out], index=codes.index, dtype="object")


def age_band(age: pd.Series) -> pd.Series:
    out = pd.Series(AGE_BANDS[0][1], index=age.index, dtype="object")
    for lower, name in AGE_BANDS[1:]:
        out[age >= lower] = name
    return out


COVARIATES = ("age_band", "female", "emergency", "body_system")

# The extra 0/1 covariates a model may carry, with their labels: the ICU model's severity
# markers (cmo.measures.icu, which documents and cites each).
EXTRA_LABELS: dict[str, str] = {
    "ventilated": "mechanical ventilation (ICD-10-PCS 5A19*)",
    "vasopressor": "vasopressor infusion (ICD-10-PCS 3E0[34]3XZ)",
    "admit_ed": "admitted through the emergency department",
    "admit_transfer": "admitted from another hospital",
    "low_hb": "haemoglobin < 10 g/dL in the first 24 h",
    "abnormal_na": "sodium < 130 or >= 150 mmol/L in the first 24 h",
}

# What the model's covariates are: a change here (or in a measure's spec) makes a stored
# reference model stale (cmo.measures.reference.spec_hash).
COVARIATE_SPEC_VERSION = "2026.1"


def covariate_spec(extras: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything that defines the covariates, as JSON-able data (hashed into spec_hash)."""
    return {
        "version": COVARIATE_SPEC_VERSION,
        "covariates": list(COVARIATES),
        "age_bands": [list(b) for b in AGE_BANDS],
        "body_systems": [list(b) for b in BODY_SYSTEMS],
        "elixhauser": list(terminology.categories("elixhauser")),
        "min_flag_count": MIN_FLAG_COUNT,
        "min_level_count": MIN_LEVEL_COUNT,
        "max_fit_rows": MAX_FIT_ROWS,
        "extras": [[x, EXTRA_LABELS[x]] for x in extras],
    }


def covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """Model covariates from a raw frame (age, sex, priority, principal_dx, el_*).

    A frame that already holds the covariates (built once for every stay) passes through.
    """
    if set(COVARIATES) <= set(frame.columns):
        return frame
    cov = pd.DataFrame(index=frame.index)
    for extra in EXTRA_LABELS:
        if extra in frame.columns:
            cov[extra] = frame[extra].fillna(False).astype(float)
    # Categoricals: the design matrix compares them level by level (fast on codes).
    cov["age_band"] = age_band(frame["age"].astype(float)).astype("category")
    cov["female"] = (frame["sex"] == "female").astype(float)
    cov["emergency"] = (frame["priority"] == "emergency").astype(float)
    cov["body_system"] = body_system(frame["principal_dx"]).astype("category")
    for cat in terminology.categories("elixhauser"):
        cov[f"el_{cat}"] = frame[f"el_{cat}"].fillna(False).astype(float)
    return cov


def design(cov: pd.DataFrame, model: dict[str, Any]) -> np.ndarray:
    """The model matrix for the terms of ``model`` (intercept first, extras last)."""
    cols = [np.ones(len(cov))]
    for band in model["age_levels"]:
        cols.append((cov["age_band"] == band).to_numpy(float))
    cols.append(cov["female"].to_numpy(float))
    cols.append(cov["emergency"].to_numpy(float))
    for system in model["system_levels"]:
        cols.append((cov["body_system"] == system).to_numpy(float))
    for flag in model["flags"]:
        cols.append(cov[flag].to_numpy(float))
    for extra in model.get("extras", []):
        cols.append(cov[extra].to_numpy(float))
    return np.column_stack(cols)


def linear_predictor(t: Any, model: dict[str, Any], system: Any = None) -> Any:
    """The model's linear predictor as an Ibis expression over a table with the raw columns
    (age, sex, priority, principal_dx, el_*): the same terms as :func:`design`, so the engine
    scores every stay without anything leaving it. ``system`` is the body-system term when the
    caller has it already (:func:`system_term` over the distinct codes, joined back)."""
    import ibis

    n_age = len(model["age_levels"])
    n_sys = len(model["system_levels"])
    coef = iter(model["coef"][: 3 + n_age] + model["coef"][3 + n_age + n_sys :])
    eta: Any = ibis.literal(next(coef))
    age = t.age.cast("float64")
    uppers = {b: lo for lo, b in AGE_BANDS}
    bounds = [lo for lo, _b in AGE_BANDS] + [10_000]
    for band in model["age_levels"]:
        lo = uppers[band]
        hi = bounds[bounds.index(lo) + 1]
        eta = eta + ((age >= lo) & (age < hi)).fill_null(False).cast("float64") * next(coef)
    eta = eta + (t.sex == "female").fill_null(False).cast("float64") * next(coef)
    eta = eta + (t.priority == "emergency").fill_null(False).cast("float64") * next(coef)
    # At most one system matches: adding its coefficient to the others' exact zeros here or in
    # system_term gives bit-identical sums.
    eta = eta + (system_term(t.principal_dx, model) if system is None else system)
    for flag in [*model["flags"], *model.get("extras", [])]:
        eta = eta + t[flag].fill_null(False).cast("float64") * next(coef)
    return eta


def system_term(code: Any, model: dict[str, Any]) -> Any:
    """The principal diagnosis' body-system coefficient (0 for the reference system), as an
    Ibis expression over an ICD-10-CM code column."""
    import ibis

    first = 3 + len(model["age_levels"])
    coefs = model["coef"][first : first + len(model["system_levels"])]
    head = code.fill_null("").substr(0, 3).upper()
    ranges = {name: (lo, hi) for lo, hi, name in BODY_SYSTEMS}
    term: Any = ibis.literal(0.0)
    for system, b in zip(model["system_levels"], coefs, strict=True):
        lo, hi = ranges[system]
        term = term + ((head >= lo) & (head <= hi)).cast("float64") * b
    return term


def probability(t: Any, model: dict[str, Any], system: Any = None) -> Any:
    """Predicted probability 1 / (1 + exp(-eta)) as an Ibis expression."""
    return 1.0 / (1.0 + (-linear_predictor(t, model, system)).exp())


def term_names(model: dict[str, Any]) -> list[str]:
    return (
        ["intercept"]
        + [f"age {b}" for b in model["age_levels"]]
        + ["female", "emergency admission"]
        + [f"body system {s}" for s in model["system_levels"]]
        + [f"elixhauser {f[3:]}" for f in model["flags"]]
        + [EXTRA_LABELS.get(x, x) for x in model.get("extras", [])]
    )


def choose_terms(cov: pd.DataFrame, y: np.ndarray, extras: tuple[str, ...] = ()) -> dict[str, Any]:
    """Levels and flags with enough data to estimate (avoids separation on small windows)."""
    counts = cov["age_band"].value_counts()
    age_levels = [b for _l, b in AGE_BANDS[1:] if counts.get(b, 0) >= MIN_LEVEL_COUNT]
    sys_counts = cov["body_system"].value_counts()
    common = [str(s) for s, n in sys_counts.items() if n >= MIN_LEVEL_COUNT and s != "UNK"]
    # The commonest system is the reference level.
    system_levels = sorted(common[1:]) if common else []
    flags = []
    for cat in terminology.categories("elixhauser"):
        col = cov[f"el_{cat}"].to_numpy(bool)
        events = int(y[col].sum())
        if col.sum() >= MIN_FLAG_COUNT and 0 < events < col.sum():
            flags.append(f"el_{cat}")
    kept = []
    for extra in extras:
        col = cov[extra].to_numpy(bool)
        if col.sum() >= MIN_FLAG_COUNT and 0 < int(y[col].sum()) < col.sum():
            kept.append(extra)
    return {
        "age_levels": age_levels,
        "system_levels": system_levels,
        "reference_system": common[0] if common else None,
        "flags": flags,
        "extras": kept,
    }


def newton_logit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_iter: int = 50,
    tol: float = 1e-10,
    start: np.ndarray | None = None,
    trials: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum-likelihood logistic regression by Newton-Raphson: (beta, se, converged), from
    ``start`` (default zeros). With ``trials``, row i stands for ``trials[i]`` cases with the
    same covariates and ``y[i]`` events among them (grouped binomial data: the same likelihood,
    so the same estimates, as the cases one by one).

    The same estimator as statsmodels ``Logit(...).fit(method="newton")`` (tests compare them);
    written out because statsmodels spent ~7 s per model on 50,000 stays here (a rank-check QR
    and a Hessian recomputed per call), which the 1M-stay budget cannot afford.
    """
    with one_blas_thread():
        return _newton(x, y, max_iter, tol, start, trials)


def _newton(
    x: np.ndarray,
    y: np.ndarray,
    max_iter: int,
    tol: float,
    start: np.ndarray | None = None,
    trials: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    n = np.ones(len(y)) if trials is None else np.asarray(trials, float)
    beta = np.zeros(x.shape[1]) if start is None else np.array(start, float)
    converged = False
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = n * p * (1.0 - p)
        hess = (x * w[:, None]).T @ x
        grad = x.T @ (y - n * p)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    eta = np.clip(x @ beta, -30, 30)
    p = 1.0 / (1.0 + np.exp(-eta))
    hess = (x * (n * p * (1.0 - p))[:, None]).T @ x
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    return beta, se, converged


def fit(
    frame: pd.DataFrame,
    measure_id: str,
    window: str = "all data",
    extras: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Fit the logistic model on a model frame (with ``outcome``); returns the model dict.

    ``extras`` are further 0/1 columns of ``frame`` offered as covariates (kept when they have
    at least ``MIN_FLAG_COUNT`` stays and both outcomes)."""
    if "stay_id" in frame.columns and not frame["stay_id"].is_monotonic_increasing:
        frame = frame.sort_values("stay_id")
    frame = frame.reset_index(drop=True)
    n_all = len(frame)
    if n_all > MAX_FIT_ROWS:
        keep = np.sort(np.random.default_rng(20240101).choice(n_all, MAX_FIT_ROWS, replace=False))
        frame = frame.iloc[keep]
    y = frame["outcome"].to_numpy(float)
    cov = covariates(frame)
    model = choose_terms(cov, y, extras)
    x = design(cov, model)
    method = "newton"
    with np.errstate(all="ignore"):
        try:
            params, bse, converged = newton_logit(x, y)
            if not converged or not np.all(np.isfinite(bse)) or np.max(np.abs(params)) > 25:
                raise np.linalg.LinAlgError("no finite maximum (separation)")
        except np.linalg.LinAlgError:
            # Separation or a singular Hessian on a small window: a light ridge penalty keeps
            # the estimates finite; no CIs are reported for a penalised fit.
            params = _ridge_logit(x, y)
            bse = np.full(len(params), np.nan)
            method = "ridge-penalised (lambda=1)"
    model.update(
        measure_id=measure_id,
        coef=[float(v) for v in params],
        se=[float(v) for v in bse],
        terms=term_names(model),
        method=method,
        window=window,
        n_fit=int(len(frame)),
        n_reference=int(n_all),
        reference_rate=float(y.mean()) if len(y) else 0.0,
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return model


def _ridge_logit(x: np.ndarray, y: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """Newton-Raphson for logistic regression with an L2 penalty (intercept unpenalised)."""
    with one_blas_thread():
        return _ridge(x, y, lam)


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    beta = np.zeros(x.shape[1])
    pen = np.full(x.shape[1], lam)
    pen[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen)
        grad = x.T @ (y - p) - pen * beta
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def predict(frame: pd.DataFrame, model: dict[str, Any]) -> np.ndarray:
    x = design(covariates(frame), model)
    with one_blas_thread():
        eta = x @ np.asarray(model["coef"], dtype=float)
    return 1.0 / (1.0 + np.exp(-eta))


@dataclass(frozen=True)
class RiskHistogram:
    """Scored cases grouped by predicted risk: the distinct predictions ``p`` (ascending) with
    the ``cases`` and ``events`` at each.

    A card's statistics depend on the rows only through it: tied predictions share their
    ranks (C-statistic), their decile (calibration) and their term in the likelihood
    (calibration fit). A model of categorical terms gives ~15K distinct predictions for 1M
    stays, so each statistic runs on those instead of sorting and ranking 1M rows."""

    p: np.ndarray
    cases: np.ndarray
    events: np.ndarray

    @classmethod
    def of(cls, y: Any, p: Any) -> RiskHistogram:
        return cls.from_codes(*cls.factorize(p), np.asarray(y, float))

    @staticmethod
    def factorize(p: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each row's code into the distinct predictions, and those predictions ascending
        (hashed, then the distinct values sorted: no sort of the rows; a null gets -1)."""
        codes, values = pd.factorize(np.asarray(p, float), sort=True)
        return codes, np.asarray(values, float)

    @classmethod
    def from_codes(
        cls, codes: np.ndarray, values: np.ndarray, y: np.ndarray, mask: Any = None
    ) -> RiskHistogram:
        """From the rows' codes into ``values`` (:meth:`factorize`), the rows in
        ``mask`` (all by default): one factorisation serves a card and its subsets. A row
        without a prediction (code -1) is left out."""
        w = np.ones(len(codes)) if mask is None else np.asarray(mask, float)
        w = np.where(codes >= 0, w, 0.0)
        at = np.maximum(codes, 0)
        cases = np.bincount(at, weights=w, minlength=len(values))
        events = np.bincount(at, weights=w * np.nan_to_num(y), minlength=len(values))
        kept = cases > 0
        return cls(values[kept], cases[kept], events[kept])

    @property
    def n(self) -> int:
        return int(self.cases.sum())

    def first_ranks(self) -> np.ndarray:
        """The 1-based rank of each distinct prediction's first case (ties take the lowest,
        as ``scipy.stats.rankdata(method="min")``)."""
        return np.cumsum(self.cases) - self.cases + 1


def c_statistic(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted one half), None without both
    outcomes."""
    return _c_statistic(RiskHistogram.of(y, p))


def _c_statistic(h: RiskHistogram) -> float | None:
    n1 = float(h.events.sum())
    n0 = float(h.cases.sum()) - n1
    if n1 <= 0 or n0 <= 0:
        return None
    average_rank = h.first_ranks() + (h.cases - 1) / 2.0  # rankdata's "average"
    return float(((h.events * average_rank).sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def calibration(y: np.ndarray, p: np.ndarray, groups: int = 10) -> list[dict[str, float]]:
    """Observed and expected events by decile of predicted risk (Hosmer-Lemeshow table).

    Deciles are cut on the rank of p with tied predictions kept in one group (deciles of risk
    as in Hosmer & Lemeshow, Applied Logistic Regression, 3rd ed. 2013, ch. 5, where ties make
    the groups unequal in size), so the table does not depend on the order of the rows and
    every engine gives the same one.
    """
    return _calibration(RiskHistogram.of(y, p), groups)


def _calibration(h: RiskHistogram, groups: int = 10) -> list[dict[str, float]]:
    n = h.n
    if n == 0:
        return []
    group = np.minimum((h.first_ranks() - 1) * groups // n, groups - 1).astype(int)
    count = np.bincount(group, h.cases, minlength=groups)
    observed = np.bincount(group, h.events, minlength=groups)
    expected = np.bincount(group, h.cases * h.p, minlength=groups)
    return [
        {
            "decile": i + 1,
            "n": int(count[i]),
            "observed": float(observed[i]),
            "expected": float(expected[i]),
            "observed_rate": float(observed[i] / count[i]),
            "expected_rate": float(expected[i] / count[i]),
        }
        for i in range(groups)
        if count[i]
    ]


def calibration_spec(rows: list[dict[str, float]], title: str) -> dict[str, Any]:
    """Vega-Lite v5 spec: observed vs expected rate per decile, with the identity line."""
    top = max([max(r["observed_rate"], r["expected_rate"]) for r in rows] or [1.0])
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "layer": [
            {
                "data": {"values": [{"x": 0, "y": 0}, {"x": top, "y": top}]},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "gray"},
                "encoding": {
                    "x": {"field": "x", "type": "quantitative"},
                    "y": {"field": "y", "type": "quantitative"},
                },
            },
            {
                "data": {"values": rows},
                "mark": {"type": "point", "filled": True},
                "encoding": {
                    "x": {
                        "field": "expected_rate",
                        "type": "quantitative",
                        "title": "expected rate",
                    },
                    "y": {
                        "field": "observed_rate",
                        "type": "quantitative",
                        "title": "observed rate",
                    },
                    "tooltip": [{"field": "decile"}, {"field": "n"}],
                },
            },
        ],
    }


def _finite(log_odds: float) -> float | None:
    """exp() of a log odds, or None when it overflows (a separated term): JSON has no inf."""
    with np.errstate(over="ignore"):
        value = float(np.exp(log_odds))
    return value if np.isfinite(value) else None


def calibration_fit(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """Calibration slope and intercept of predictions ``p`` against outcomes ``y``, with 95%
    Wald CIs.

    Slope: the coefficient b of ``logit P(y=1) = a + b * lp`` with lp = logit(p) (Cox DR.
    Two further applications of a model for binary regression. Biometrika 1958;45:562-5);
    1 is ideal, < 1 means predictions too extreme (overfitting). Intercept: calibration-in-
    the-large, the a of ``logit P(y=1) = a + offset(lp)`` (Steyerberg EW, Clinical Prediction
    Models, 2nd ed. 2019, ch. 15; Van Calster B, et al. J Clin Epidemiol 2016;74:167-76);
    0 is ideal, > 0 means more events than predicted. None without both outcomes.

    Both fits run on the distinct predictions (:class:`RiskHistogram`: events and cases per
    value, grouped binomial data with the same likelihood)."""
    return _calibration_fit(RiskHistogram.of(y, p))


def _calibration_fit(h: RiskHistogram) -> dict[str, float | None]:
    empty: dict[str, float | None] = {
        k: None
        for k in (
            "slope",
            "slope_low",
            "slope_high",
            "intercept",
            "intercept_low",
            "intercept_high",
        )
    }
    events, cases = h.events, h.cases
    if h.n == 0 or events.sum() in (0, cases.sum()):
        return empty
    q = np.clip(h.p, 1e-9, 1 - 1e-9)
    lp = np.log(q / (1 - q))
    z = 1.959963984540054
    out = dict(empty)
    with np.errstate(all="ignore"):
        try:
            # From a calibrated model's (0, 1): half the iterations of a start at zero.
            beta, se, ok = newton_logit(
                np.column_stack([np.ones(len(lp)), lp]),
                events,
                start=np.array([0.0, 1.0]),
                trials=cases,
            )
            if ok and np.all(np.isfinite(se)):
                out.update(
                    slope=float(beta[1]),
                    slope_low=float(beta[1] - z * se[1]),
                    slope_high=float(beta[1] + z * se[1]),
                )
        except np.linalg.LinAlgError:
            pass
        # Intercept with lp as an offset: one-parameter Newton-Raphson.
        a = 0.0
        total = float(events.sum())
        for _ in range(100):
            pa = 1.0 / (1.0 + np.exp(-np.clip(a + lp, -30, 30)))
            info = float((cases * pa * (1 - pa)).sum())
            step = (total - float((cases * pa).sum())) / info if info > 0 else 0.0
            a += step
            if abs(step) < 1e-12:
                break
        pa = 1.0 / (1.0 + np.exp(-np.clip(a + lp, -30, 30)))
        info = float((cases * pa * (1 - pa)).sum())
        if info > 0 and np.isfinite(a):
            se_a = 1.0 / np.sqrt(info)
            out.update(intercept=a, intercept_low=a - z * se_a, intercept_high=a + z * se_a)
    return out


def validation(h: RiskHistogram, title: str) -> dict[str, Any]:
    """n, events, expected, O/E, C-statistic, calibration slope and intercept, the decile table
    and its chart spec for the cases of ``h`` scored by a frozen model."""
    deciles = _calibration(h)
    events, expected = float(h.events.sum()), float((h.cases * h.p).sum())
    return {
        "n": h.n,
        "events": events,
        "expected": expected,
        "oe": events / expected if expected > 0 else None,
        "c_statistic": _c_statistic(h) if h.n else None,
        **_calibration_fit(h),
        "calibration": deciles,
        "calibration_chart": calibration_spec(deciles, title),
    }


def model_card(
    frame: pd.DataFrame, model: dict[str, Any], p: np.ndarray, dates: Any = None
) -> dict[str, Any]:
    """n, events, C-statistic, calibration table and chart spec, coefficients with 95% CIs.

    ``dates`` (the rows' discharge dates) split the rows at the model's fitting window: the
    card then adds ``development`` (the rows in the window: apparent performance) and
    ``out_of_time`` (the rows discharged after it: the frozen model on later data) with
    :func:`validation` of each. The top-level n, C-statistic and calibration stay those of
    every row scored by the build."""
    y = frame["outcome"].to_numpy(float)
    # One factorisation of the predictions for the card and both of its subsets.
    codes, values = RiskHistogram.factorize(p)
    whole = RiskHistogram.from_codes(codes, values, y)
    deciles = _calibration(whole)
    coefs = []
    z = 1.959963984540054
    for name, b, se in zip(model["terms"], model["coef"], model["se"], strict=True):
        ok = bool(np.isfinite(se))
        coefs.append(
            {
                "term": name,
                "estimate": b,
                "se": se if ok else None,
                "odds_ratio": _finite(b),
                "ci_low": _finite(b - z * se) if ok else None,
                "ci_high": _finite(b + z * se) if ok else None,
            }
        )
    extra: dict[str, Any] = {}
    end = model.get("window_end")
    if dates is not None and end is not None:
        d = pd.to_datetime(pd.Series(dates)).to_numpy()
        start = model.get("window_start")
        lo = np.datetime64(start) if start else np.datetime64("1900-01-01")
        hi = np.datetime64(end)
        inside = (d >= lo) & (d <= hi)
        after = d > hi
        mid = model["measure_id"]
        extra["development"] = validation(
            RiskHistogram.from_codes(codes, values, y, inside), f"{mid} in the fitting window"
        )
        oot = validation(
            RiskHistogram.from_codes(codes, values, y, after),
            f"{mid} after the fitting window (out of time)",
        )
        if after.any():
            dd = d[after]
            oot["period_start"] = str(np.datetime_as_string(dd.min(), unit="D"))
            oot["period_end"] = str(np.datetime_as_string(dd.max(), unit="D"))
        else:
            oot["note"] = "no data after the fitting window yet"
        extra["out_of_time"] = oot
    return {
        **_version_keys(model),
        **extra,
        "measure_id": model["measure_id"],
        "n": int(len(y)),
        "events": float(y.sum()),
        "n_fit": model["n_fit"],
        "reference_rate": model["reference_rate"],
        "window": model["window"],
        "method": model["method"],
        "c_statistic": _c_statistic(whole),
        "calibration": deciles,
        "calibration_chart": calibration_spec(deciles, f"{model['measure_id']} calibration"),
        "coefficients": coefs,
        "reference_levels": {
            "age": AGE_BANDS[0][1],
            "sex": "male",
            "body_system": model.get("reference_system"),
        },
        "model": model,
    }


def _version_keys(model: dict[str, Any]) -> dict[str, Any]:
    """The stored reference model's identity, when the model has one."""
    keys = ("model_version", "model_hash", "spec_hash", "window_start", "window_end", "fitted_at")
    return {k: model.get(k) for k in keys if k in model}
