"""Risk model: recovers known coefficients, C-statistic and calibration, reuse of a saved model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cmo import terminology
from cmo.measures import risk


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "stay_id": [f"s{i:06d}" for i in range(n)],
            "age": rng.integers(18, 100, n),
            "sex": rng.choice(["male", "female"], n),
            "priority": rng.choice(["emergency", "elective"], n, p=[0.8, 0.2]),
            "principal_dx": rng.choice(["I50.9", "J18.9", "K35.80"], n),
        }
    )
    for cat in terminology.categories("elixhauser"):
        frame[f"el_{cat}"] = rng.random(n) < 0.05
    frame["el_chf"] = rng.random(n) < 0.3
    eta = (
        -3.0
        + 1.0 * (frame["age"] >= 85)
        + 0.8 * frame["el_chf"]
        + 0.5 * (frame["priority"] == "emergency")
    )
    frame["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return frame


def test_fit_recovers_planted_effects_and_reports_a_card():
    frame = synthetic(20_000)
    model = risk.fit(frame, "TEST")
    coef = dict(zip(model["terms"], model["coef"], strict=True))
    assert coef["elixhauser chf"] == pytest.approx(0.8, abs=0.15)
    assert coef["age 85+"] == pytest.approx(1.0, abs=0.2)
    assert coef["emergency admission"] == pytest.approx(0.5, abs=0.2)
    p = risk.predict(frame, model)
    # Logistic regression with an intercept: expected events equal observed events.
    assert p.sum() == pytest.approx(frame["outcome"].sum(), rel=1e-6)
    card = risk.model_card(frame, model, p)
    assert card["n"] == 20_000 and card["events"] == frame["outcome"].sum()
    assert 0.6 < card["c_statistic"] < 0.8
    assert len(card["calibration"]) == 10
    assert sum(d["n"] for d in card["calibration"]) == 20_000
    chf = next(c for c in card["coefficients"] if c["term"] == "elixhauser chf")
    assert chf["ci_low"] < np.exp(0.8) < chf["ci_high"]
    json.dumps(card)  # the card is plain JSON (no inf/NaN objects)


def test_saved_model_predicts_identically():
    frame = synthetic(3_000, seed=2)
    model = risk.fit(frame, "TEST")
    again = json.loads(json.dumps(model))
    assert np.array_equal(risk.predict(frame, model), risk.predict(frame, again))


def test_c_statistic_edges():
    y = np.array([0, 0, 1, 1.0])
    assert risk.c_statistic(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert risk.c_statistic(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert risk.c_statistic(np.zeros(3), np.array([0.1, 0.2, 0.3])) is None


def test_ranks_and_c_statistic_match_scipy_rankdata():
    """The histogram's first ranks are rankdata's "min" ranks of its values, and the
    C-statistic from it is the Mann-Whitney U of rankdata's average ranks, ties included."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    p = np.round(rng.uniform(0, 1, 5_000), 2)  # many ties
    y = (rng.uniform(0, 1, p.size) < p).astype(float)
    h = risk.RiskHistogram.of(y, p)
    low = rankdata(p, method="min")
    assert np.array_equal(h.first_ranks(), [low[p == v][0] for v in h.p])
    ranks = rankdata(p)
    n1, n0 = y.sum(), (1 - y).sum()
    u = (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert risk.c_statistic(y, p) == pytest.approx(u, abs=1e-12)
    y = np.array([0, 1, 0, 1.0])
    assert risk.c_statistic(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5  # all tied


def test_subset_histogram_equals_the_subset_alone():
    """A model card's development and out-of-time subsets, taken from the whole card's one
    factorisation, are the histograms of the subsets on their own, with the deciles of the
    rank rule (tied predictions in one decile)."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(4)
    p = np.round(rng.uniform(0, 1, 5_000), 2)
    y = (rng.uniform(0, 1, p.size) < p).astype(float)
    mask = rng.uniform(0, 1, p.size) < 0.3
    codes, values = pd.factorize(p, sort=True)
    sub = risk.RiskHistogram.from_codes(codes, np.asarray(values), y, mask)
    alone = risk.RiskHistogram.of(y[mask], p[mask])
    np.testing.assert_array_equal(sub.p, alone.p)
    np.testing.assert_array_equal(sub.cases, alone.cases)
    np.testing.assert_array_equal(sub.events, alone.events)
    deciles = risk.calibration(y[mask], p[mask])
    rank = rankdata(p[mask], method="min")
    decile = np.minimum((rank - 1) * 10 // mask.sum(), 9)
    assert [d["n"] for d in deciles] == np.bincount(decile, minlength=10).tolist()
    observed = np.bincount(decile, weights=y[mask], minlength=10)
    assert [d["observed"] for d in deciles] == pytest.approx(observed.tolist())
    # A row without a prediction is left out, not an error.
    gap = risk.RiskHistogram.of(np.array([1.0, 0.0, 1.0]), np.array([0.2, np.nan, 0.4]))
    assert gap.n == 2 and gap.events.tolist() == [1.0, 1.0]
    # Without ties, ten equal deciles.
    assert [d["n"] for d in risk.calibration(np.zeros(20), np.linspace(0.01, 0.2, 20))] == [2] * 10


def test_body_system_and_age_band():
    codes = pd.Series(["I509", "J189", "C3490", "D509", "S72002A", None])
    assert risk.body_system(codes).tolist() == ["CIR", "RSP", "NEO", "BLD", "INJ", "UNK"]
    assert risk.age_band(pd.Series([18, 45, 70, 80, 90])).tolist() == [
        "18-44",
        "45-64",
        "65-74",
        "75-84",
        "85+",
    ]


def test_newton_equals_statsmodels_logit():
    import statsmodels.api as sm

    frame = synthetic(5_000, seed=3)
    cov = risk.covariates(frame)
    model = risk.choose_terms(cov, frame["outcome"].to_numpy(float))
    x = risk.design(cov, model)
    y = frame["outcome"].to_numpy(float)
    beta, se, converged = risk.newton_logit(x, y)
    ref = sm.Logit(y, x).fit(disp=0, method="newton")
    assert converged
    np.testing.assert_allclose(beta, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(se, ref.bse, rtol=1e-6)


def test_grouped_binomial_newton_equals_the_fit_on_single_cases():
    """Given cases sharing few distinct covariate rows, when they are fitted grouped (events
    and trials per distinct row), then the estimates and SEs are those of the case-by-case
    fit (the same binomial likelihood); and the calibration fit, which groups by distinct
    prediction, gives the slope and intercept of a case-by-case Newton-Raphson."""
    rng = np.random.default_rng(11)
    p = rng.choice([0.02, 0.05, 0.1, 0.2, 0.35], 20_000)
    y = (rng.random(p.size) < np.clip(1.4 * p, 0, 1)).astype(float)
    lp = np.log(p / (1 - p))
    x = np.column_stack([np.ones(p.size), lp])
    beta, se, ok = risk.newton_logit(x, y)
    values, inverse = np.unique(lp, return_inverse=True)
    events = np.bincount(inverse, weights=y)
    trials = np.bincount(inverse).astype(float)
    gx = np.column_stack([np.ones(values.size), values])
    gbeta, gse, gok = risk.newton_logit(gx, events, trials=trials)
    assert ok and gok
    np.testing.assert_allclose(gbeta, beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(gse, se, rtol=1e-9)
    fit = risk.calibration_fit(y, p)
    assert fit["slope"] == pytest.approx(beta[1], abs=1e-9)
    assert fit["slope_low"] == pytest.approx(beta[1] - 1.959963984540054 * se[1], abs=1e-9)
    # Intercept with lp as an offset, case by case.
    a = 0.0
    for _ in range(100):
        q = 1 / (1 + np.exp(-(a + lp)))
        step = (y - q).sum() / (q * (1 - q)).sum()
        a += step
    assert fit["intercept"] == pytest.approx(a, abs=1e-9)
    assert fit["intercept"] > 0  # 1.4x the predicted events: more events than predicted


def test_separation_falls_back_to_a_penalised_fit():
    frame = synthetic(400, seed=4)
    frame["outcome"] = (frame["priority"] == "emergency").astype(float)  # perfectly separated
    model = risk.fit(frame, "SEP")
    assert model["method"].startswith("ridge")
    assert all(np.isfinite(model["coef"]))
    card = risk.model_card(frame, model, risk.predict(frame, model))
    assert all(c["ci_low"] is None for c in card["coefficients"])


def test_engine_probability_equals_python_predict(warehouse):
    """The linear predictor written as an Ibis expression scores like the numpy design."""
    import ibis

    frame = synthetic(2_000, seed=5)
    frame.loc[::50, "age"] = None
    frame.loc[::70, "principal_dx"] = None
    frame.loc[::30, "principal_dx"] = "O9A.11"
    model = risk.fit(frame.dropna(subset=["age"]), "TEST")
    model["system_levels"] = sorted(set(model["system_levels"]) | {"PRG"})
    model["coef"] = model["coef"] + [0.0] * (len(risk.term_names(model)) - len(model["coef"]))
    model["terms"] = risk.term_names(model)
    want = risk.predict(frame, model)
    t = ibis.memtable(frame.assign(principal_dx=frame["principal_dx"].str.replace(".", "")))
    got = warehouse.con.execute(
        t.select("stay_id", p=risk.probability(t, model)).order_by("stay_id")
    )
    np.testing.assert_allclose(got["p"].to_numpy(), want, rtol=0, atol=1e-12)
