"""The stored CUSUM series (quality__cusum, ``cmo.measures.results.cusum_series``) and the
alarms read off it: the recursion of Steiner et al. (Biostatistics 2000), restarted at 0 after
each alarm, one point per discharge day."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cmo.measures.results import CUSUM_COLUMNS, _reset_path, cusum_series, cusum_signals
from cmo.stats.cusum import cusum_weights


def _recursion(w: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """S_t = max(0, S_{t-1} + W_t), and S_{t-1} taken as 0 after an alarm (the textbook loop)."""
    s, alarm, prev = np.zeros(len(w)), np.zeros(len(w), bool), 0.0
    for t, wt in enumerate(w):
        s[t] = max(0.0, prev + wt)
        alarm[t] = s[t] > h
        prev = 0.0 if alarm[t] else s[t]
    return s, alarm


def test_reset_path_equals_the_recursion_with_restarts() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.3, 2000)
    y = (rng.random(2000) < 2 * p).astype(float)  # worse than predicted: several alarms
    w = cusum_weights(y, p, 2.0)
    s, alarm = _reset_path(w, 3.0)
    ref_s, ref_alarm = _recursion(w, 3.0)
    assert alarm.sum() >= 3
    np.testing.assert_allclose(s, ref_s, atol=1e-9)
    assert (alarm == ref_alarm).all()


def test_series_has_a_point_per_day_and_the_signals_read_its_alarms(warehouse) -> None:
    """Given site A with a death in every fifth of 60 stays at p = 0.05 and site B with none,
    the series has one row per site x side x discharge day, A's upper chart alarms and
    restarts, and the signals are exactly the alarmed charts."""
    import ibis

    from cmo.measures.spec import registry

    n = 60
    frame = pd.DataFrame(
        {
            "measure_id": "IMORT",
            "stay_id": [f"s{i:03d}" for i in range(2 * n)],
            "site_id": ["A"] * n + ["B"] * n,
            # Two stays a day: 30 days per site.
            "discharge_date": [
                date(2024, 1, 1) + pd.Timedelta(days=(i % n) // 2) for i in range(2 * n)
            ],
            "in_population": True,
            "excluded": False,
            "outcome": [1.0 if i % 5 == 0 else 0.0 for i in range(n)] + [0.0] * n,
            "expected": 0.05,
        }
    )
    warehouse.write("quality__measure_long", ibis.memtable(frame))
    results = pd.DataFrame(
        {"level": ["site", "site"], "unit_id": ["A", "B"], "unit_name": ["Site A", "Site B"]}
    )
    long = warehouse.table("quality__measure_long")
    series = cusum_series(long, results, registry())
    assert list(series.columns) == CUSUM_COLUMNS
    assert len(series) == 2 * 2 * 30  # sites x sides x days
    a_up = series[(series.unit_id == "A") & (series.side == "upper")]
    assert a_up["alarm"].any() and (a_up["cases"].diff().dropna() == 2).all()
    # After an alarm day the chart restarts at 0: the next day starts from scratch.
    first = int(np.flatnonzero(a_up["alarm"].to_numpy())[0])
    if first + 1 < len(a_up):
        assert a_up["s_max"].iloc[first + 1] <= a_up["h"].iloc[0]
    assert not series[(series.unit_id == "B") & (series.side == "upper")]["alarm"].any()
    sig = cusum_signals(long, results, registry(), series=series)
    alarmed = series[series.alarm].groupby(["unit_id", "side"]).size()
    assert len(sig) == len(alarmed)
    assert sig[sig.direction == "worse"].unit_id.tolist() == ["A"]
    assert "restarted at 0" in sig.detail.iloc[0]


def test_limits_prepared_on_a_thread_give_the_same_series(warehouse) -> None:
    """Given the CUSUM stays fetched (on a cursor of their own) and their limits simulated on
    other threads (as the build does during its results step), the series equals the one
    computed in place; a preparation cut with other lookbacks is not used (the series is the
    in-place one)."""
    from concurrent.futures import ThreadPoolExecutor

    import ibis

    from cmo.measures.results import lookback_from, prepare_cusum
    from cmo.measures.spec import registry

    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "measure_id": "IMORT",
            "stay_id": [f"s{i:04d}" for i in range(n)],
            "site_id": np.where(np.arange(n) % 2 == 0, "A", "B"),
            "discharge_date": [date(2024, 1, 1) + pd.Timedelta(days=i // 4) for i in range(n)],
            "period_month": [date(2024, 1 + (i // 4) // 31, 1) for i in range(n)],
            "in_population": True,
            "excluded": False,
            "outcome": (rng.random(n) < 0.1).astype(float),
            "expected": rng.uniform(0.02, 0.2, n),
        }
    )
    warehouse.write("quality__measure_long", ibis.memtable(frame))
    results = pd.DataFrame(
        {"level": ["site", "site"], "unit_id": ["A", "B"], "unit_name": ["Site A", "Site B"]}
    )
    long = warehouse.table("quality__measure_long")
    measures = registry()
    lookbacks = lookback_from(date(2023, 1, 1), measures)
    inline = cusum_series(long, results, measures, lookbacks)
    # One worker (the fetch, then each side in turn) or two (the build's: the sides' limits
    # side by side): the same series.
    for workers in (1, 2):
        with ThreadPoolExecutor(workers) as pool:
            prepared = prepare_cusum(
                long, measures, lookbacks, submit=pool.submit, fetcher=warehouse.fetcher
            )
            threaded = cusum_series(long, results, measures, lookbacks, prepared=prepared)
        pd.testing.assert_frame_equal(threaded, inline)
    assert threaded["h"].gt(0).all()
    # Cut with a later data start (its lookback leaves out January): not these lookbacks.
    other = prepare_cusum(long, measures, lookback_from(date(2024, 1, 1), measures))
    assert len(other.resolved()[0]) < n
    again = cusum_series(long, results, measures, lookbacks, prepared=other)
    pd.testing.assert_frame_equal(again, inline)


def test_window_ends_at_the_charted_stays_not_at_other_measures_rows(warehouse) -> None:
    """Given IMORT stays discharged in 2024 and a safety measure's rows dated two years later
    (the safety app's events run up to today), the CUSUM still charts IMORT's last 12 months:
    the window ends at the charted stays' last discharge."""
    import ibis

    from cmo.measures.spec import registry

    n = 40
    imort = pd.DataFrame(
        {
            "measure_id": "IMORT",
            "stay_id": [f"s{i:03d}" for i in range(n)],
            "site_id": "A",
            "discharge_date": [date(2024, 6, 1) + pd.Timedelta(days=i) for i in range(n)],
            "in_population": True,
            "excluded": False,
            "outcome": [1.0 if i % 4 == 0 else 0.0 for i in range(n)],
            "expected": 0.05,
        }
    )
    later = imort.head(3).assign(
        measure_id="SAFETY_EVENTS", discharge_date=date(2026, 11, 30), expected=None
    )
    warehouse.write("quality__measure_long", ibis.memtable(pd.concat([imort, later])))
    results = pd.DataFrame({"level": ["site"], "unit_id": ["A"], "unit_name": ["Site A"]})
    series = cusum_series(warehouse.table("quality__measure_long"), results, registry())
    assert set(series["measure_id"]) == {"IMORT"}
    assert series["day"].max() == date(2024, 7, 10) and series["cases"].max() == n
