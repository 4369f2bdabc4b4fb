"""The signal rules (issue 13): small cells, multiplicity, lookback, direction, shrinkage.

Given/when/then on small hand-made result tables (the same pandas frames the build passes
from the results step to the signals step), so each rule is seen in isolation.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cmo.measures import results as res
from cmo.measures.spec import registry

END = date(2024, 12, 31)


def _family(o, e, n, *, level="practitioner", measure="READM30", year=2024):
    k = len(o)
    return pd.DataFrame(
        {
            "measure_id": measure,
            "period_type": "year",
            "period_start": date(year, 1, 1),
            "level": level,
            "unit_id": [f"u{i:03d}" for i in range(k)],
            "unit_name": [f"Unit {i}" for i in range(k)],
            "site_id": "s1",
            "denominator": np.asarray(n, np.int64),
            "numerator": np.asarray(o, float),
            "expected": np.asarray(e, float),
        }
    )


def _signals(frame):
    measures = registry()
    funnels = res.funnel_points(frame, measures, END)
    empty_charts = pd.DataFrame(columns=res.CHART_COLUMNS)
    return funnels, res.signals(frame, measures, END, empty_charts, funnels)


def test_a_small_cell_never_flags():
    """Given a practitioner with 12 cases and 10 readmissions against 0.6 expected (far
    outside the 99.8% limit), when the signals run, then the row is a small cell and raises
    nothing, while 12 readmissions of 40 cases against 1.2 expected do."""
    o, e = [10.0, 20, 22, 18, 21], [0.6, 20, 21, 19, 20]
    funnels, sig = _signals(_family(o, e, [12, 100, 100, 100, 100]))
    tiny = funnels[funnels.unit_id == "u000"].iloc[0]
    assert tiny.ratio > tiny.ucl_99_8 and tiny.p_value < 0.002  # far outside its limit...
    assert tiny.small_cell and not tiny.outlier_95 and np.isnan(tiny.q_value)  # ...not judged
    assert sig.empty
    _, sig = _signals(
        _family([12.0, 20, 22, 18, 21], [1.2, 20, 21, 19, 20], [40, 100, 100, 100, 100])
    )
    assert sig.unit_id.tolist() == ["u000"] and sig.direction.tolist() == ["worse"]
    assert sig.q_value.iloc[0] < res.Q_LEVEL


def test_a_practitioner_flag_needs_the_false_discovery_rate():
    """Given 300 practitioners with O = E = 40 and one with 64 (outside 99.8%, p = 0.00057),
    when the signals run, then BH gives q = 0.17 > 0.05 and no practitioner signal; the same
    family of departments flags it (95% rule); with 3 units q = 0.0017 and it flags."""
    k = 300
    o = np.full(k, 40.0)
    o[0] = 64
    funnels, sig = _signals(_family(o, np.full(k, 40.0), np.full(k, 400)))
    row = funnels[funnels.unit_id == "u000"].iloc[0]
    assert row.outlier_99_8 and row.p_value == pytest.approx(0.000573, rel=1e-2)
    assert row.q_value == pytest.approx(row.p_value * k)
    assert sig.empty
    _, sig = _signals(_family(o, np.full(k, 40.0), np.full(k, 400), level="department"))
    assert sig.unit_id.tolist() == ["u000"] and sig.kind.tolist() == ["funnel_99_8"]
    _, sig = _signals(_family(o[:3], np.full(3, 40.0), np.full(3, 400)))
    assert sig.unit_id.tolist() == ["u000"] and sig.q_value.iloc[0] == pytest.approx(
        row.p_value * 3
    )


def _monthly(values, *, measure="LOS", start=date(2023, 1, 1)):
    months = pd.date_range(start, periods=len(values), freq="MS").date
    return pd.DataFrame(
        {
            "measure_id": measure,
            "period_type": "month",
            "period_start": months,
            "level": "system",
            "unit_id": "all",
            "unit_name": "All sites",
            "site_id": None,
            "denominator": 400,
            "numerator": np.asarray(values, float) * 400,
            "expected": 400.0,
            "rate": np.asarray(values, float),
            "oe": np.asarray(values, float),
            "small_cell": False,
        }
    )


def test_months_before_the_lookback_raise_nothing():
    """Given a LOS index series whose first month (lookback incomplete: stays admitted before
    the data start are missing) is far below the rest, when charted, then that month is drawn
    but excluded from the limits and raises no signal; without the lookback it would."""
    rng = np.random.default_rng(0)
    values = 1 + rng.normal(0, 0.02, 24)
    values[0] = 0.7
    frame = _monthly(values)
    measures = registry()
    lookbacks = res.lookback(frame, measures)
    first = lookbacks.set_index("measure_id").loc["LOS", "first_month"]
    assert first == date(2023, 2, 1)
    charts = res.chart_points(frame, measures, END, lookbacks)
    assert charts["lookback_complete"].tolist() == [False] + [True] * 23
    assert charts["sigma_signal"].iloc[0]  # still drawn as outside its limits
    sig = res.signals(frame, measures, END, charts, pd.DataFrame(columns=res.FUNNEL_COLUMNS))
    assert date(2023, 1, 1) not in set(sig.period_start)
    no_lookback = res.chart_points(frame, measures, END)
    sig = res.signals(frame, measures, END, no_lookback, pd.DataFrame(columns=res.FUNNEL_COLUMNS))
    assert date(2023, 1, 1) in set(sig.period_start)


def test_missing_poa_extends_the_risk_adjusted_lookback_to_a_year():
    """Given 30% of secondary diagnoses without POA, when the lookback is set, then the
    first 12 months of the measures with a comorbidity risk model raise nothing (their
    comorbidities come from the 12 months before admission); with POA present their
    lookback is the measure's own."""
    frame = _monthly(np.ones(24))
    measures = registry()
    poa = res.lookback(frame, measures, 0.30).set_index("measure_id")
    full = res.lookback(frame, measures, 0.0).set_index("measure_id")
    assert poa.loc["READM30", "first_month"] == date(2024, 1, 1)
    assert full.loc["READM30", "first_month"] == date(2023, 2, 1)
    assert (
        poa.loc["LOS", "first_month"] == full.loc["LOS", "first_month"]
    )  # no comorbidity model (AMLOS)
    assert full.loc["MORT30", "first_month"] == date(2024, 1, 1)  # hospice: 12 months own


def test_a_measure_without_a_better_direction_never_signals():
    """Given the case-mix index (direction 'none') with a month far outside its limits, when
    the signals run, then nothing is raised."""
    measures = registry()
    assert measures["CMI"].spec.direction == "none" and not res.signalled(measures["CMI"])
    values = np.ones(24)
    values[12] = 3.0
    frame = _monthly(values, measure="CMI")
    frame["expected"] = np.nan
    frame["oe"] = np.nan
    charts = res.chart_points(frame, measures, END)
    assert charts["sigma_signal"].any()
    assert res.signals(frame, measures, END, charts).empty


def test_rolling_windows_sum_the_last_complete_months():
    """Given 24 complete months of practitioner rows, when the funnels are built, then the
    'rolling12' and 'rolling24' windows sum the last 12 and 24 months and sit beside the
    calendar years."""
    months = pd.date_range("2023-01-01", periods=24, freq="MS").date
    rows = []
    for i in range(5):
        for m in months:
            rows.append(
                {
                    "measure_id": "READM30",
                    "period_type": "month",
                    "period_start": m,
                    "level": "practitioner",
                    "unit_id": f"p{i}",
                    "unit_name": f"P {i}",
                    "site_id": "s1",
                    "denominator": 10,
                    "numerator": 1.0 + (i == 0),
                    "expected": 1.0,
                }
            )
    frame = pd.DataFrame(rows)
    years = frame.assign(
        period_type="year", period_start=[date(m.year, 1, 1) for m in frame.period_start]
    )
    years = years.groupby(
        ["measure_id", "period_type", "period_start", "level", "unit_id", "unit_name", "site_id"],
        as_index=False,
    )[["denominator", "numerator", "expected"]].sum()
    funnels = res.funnel_points(pd.concat([frame, years]), registry(), END)
    p0 = funnels[funnels.unit_id == "p0"].set_index("window")
    assert set(funnels["window"]) == {"year", "rolling12", "rolling24"}
    assert p0.loc["rolling24", "denominator"] == 240 and p0.loc["rolling24", "numerator"] == 48
    assert p0.loc["rolling12", "period_start"] == date(2024, 1, 1)
    assert p0.loc["rolling24", "period_end"] == date(2025, 1, 1)
    assert len(p0.loc["year"]) == 2
    # With READM30's lookback (1 month) the rolling 24 months start in February 2023.
    lookbacks = res.lookback(frame, registry())
    funnels = res.funnel_points(pd.concat([frame, years]), registry(), END, lookbacks)
    p0 = funnels[funnels.unit_id == "p0"].set_index("window")
    assert p0.loc["rolling24", "period_start"] == date(2023, 2, 1)
    assert p0.loc["rolling24", "denominator"] == 230 and p0.loc["rolling24", "lookback_complete"]
    assert not p0.loc["year"].set_index("period_start").loc[date(2023, 1, 1), "lookback_complete"]


def test_shrunk_rates_stay_within_zero_and_one():
    """Given practitioners whose crude O/E x the reference rate exceeds 100% (3 deaths of 3
    stays against 0.9 expected), when the results are finished, then the risk-standardised rate
    comes from the shrunk ratio and stays within 0-1, and small cells are marked."""
    measures = registry()
    o = np.array([3.0, 10, 12, 8, 30])
    e = np.array([0.9, 11, 10, 9, 28])
    n = np.array([3, 60, 70, 50, 160])
    agg = _family(o, e, n, measure="IMORT").assign(period_type="year")
    agg["median"] = np.nan
    names = {"practitioner": {}}
    sites = pd.DataFrame(columns=["level", "unit_id", "site_id"])
    out = res.finish(
        agg.drop(columns=["site_id", "unit_name"]), measures, {"IMORT": 0.4}, names, sites
    )
    assert (out["rsr"] <= 1).all() and (out["rsr"] >= 0).all()
    assert out["small_cell"].tolist() == [True, False, False, False, False]
    first = out.iloc[0]
    assert first.oe * 0.4 > 1  # the crude rate would be 133%
    assert abs(first.shrunk_ratio - 1) < abs(first.oe - 1)
    assert first.shrunk_low < first.shrunk_ratio < first.shrunk_high


def test_icus_are_compared_only_with_icus():
    """Given IMORT's unit level with 9 wards near O/E 1 and 3 ICUs (scored by the ICU model)
    of which one has O/E 2, when the funnel runs with the ICUs as a peer group (as the build
    does), then the ICUs form their own family: its overdispersion and q-values come from the
    three ICUs alone, and the wards' family is the one the ICUs no longer widen."""
    wards_o = [20.0, 22, 18, 21, 19, 20, 23, 17, 20]
    icu_o = [60.0, 30, 31]
    frame = _family(
        wards_o + icu_o, [20.0] * 9 + [30.0] * 3, [400] * 12, level="unit", measure="IMORT"
    )
    icus = frame.unit_id.tolist()[9:]
    pooled = res.funnel_points(frame, registry(), END)
    split = res.funnel_points(frame, registry(), END, peers={"IMORT": dict.fromkeys(icus, "icu")})
    assert len(split) == len(pooled) == 12
    icu_rows = split[split.unit_id.isin(icus)]
    ward_rows = split[~split.unit_id.isin(icus)]
    # Three ICUs are too few to estimate overdispersion: exact Poisson limits among ICUs, and
    # the ICU at O/E 2 (60 deaths against 30 expected) is outside them.
    assert icu_rows.phi.isna().all() and (icu_rows.tau2 == 0).all()
    assert icu_rows.set_index("unit_id").loc[icus[0], "outlier_99_8"]
    # The wards' family without the ICUs: the same as a funnel of the wards alone.
    alone = res.funnel_points(frame[~frame.unit_id.isin(icus)], registry(), END)
    assert ward_rows.sort_values("unit_id").q_value.to_numpy() == pytest.approx(
        alone.sort_values("unit_id").q_value.to_numpy()
    )
    # Without the peer group, the ICUs share the wards' family (one phi for all twelve).
    assert pooled.phi.nunique() == 1 and np.isfinite(pooled.phi.iloc[0])
