"""Safety analytics: patient days from the warehouse, events per 1,000 patient days on the SPC
engine's u-chart, reporting rate, near-miss ratio, days to close; the export rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from cmo.safety import analytics
from cmo.safety.warehouse import _days_by_month, patient_days


def test_patient_days_count_midnights_by_month() -> None:
    df = pd.DataFrame(
        {
            "unit_id": ["U", "U", "V"],
            "first": [date(2024, 1, 30), date(2024, 2, 10), date(2024, 1, 1)],
            "last": [date(2024, 2, 2), date(2024, 2, 10), date(2024, 3, 15)],
        }
    )
    out = _days_by_month(df, date(2024, 1, 1), date(2024, 3, 1))
    got = {(r.unit_id, r.month): r.patient_days for r in out.itertuples()}
    # U: nights of 30, 31 Jan and 1 Feb; plus a same-day stay on 10 Feb. V: clipped to Feb.
    assert got == {
        ("U", date(2024, 1, 1)): 2,
        ("U", date(2024, 2, 1)): 2,
        ("V", date(2024, 1, 1)): 31,
        ("V", date(2024, 2, 1)): 29,
    }


def test_patient_days_from_the_warehouse(safety_warehouse_file: Any) -> None:
    out = patient_days(date(2024, 3, 1), date(2024, 4, 1), path=safety_warehouse_file)
    assert out["patient_days"].tolist() == [310]  # 10 beds x 31 days, always full


@pytest.mark.django_db
def test_rates_and_summary(make_event: Any, directory: Any, safety_warehouse: Any) -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    for k in range(12):
        when = start + timedelta(days=31 * k)
        make_event(occurred_at=when, reported_at=when)
        make_event(occurred_at=when, reported_at=when, category="near_miss", harm="none")
    closed = make_event(occurred_at=start, reported_at=start, closed_at=start + timedelta(days=6))
    assert closed.pk
    make_event(occurred_at=start, reported_at=start, source="ehr")
    events = analytics.event_rows()
    days = patient_days(date(2024, 1, 1), date(2025, 1, 1))
    s = analytics.summary(events, days)
    assert s["n_events"] == 26
    assert s["near_miss_ratio"] == pytest.approx(12 / 14)
    assert s["median_days_to_close"] == 6
    # EHR events are not staff reports: 25 reports over the year's patient days.
    assert s["reporting_rate"] == pytest.approx(1000 * 25 / s["patient_days"])
    series = analytics.monthly_rate(events, days, units=["U-ICU"])
    frame = analytics.u_chart(series)
    assert frame is not None and frame.attrs["chart"] == "u"
    jan = frame.iloc[0]
    # January: an incident, a near miss, the closed one and the EHR one over 310 days.
    assert jan["y"] == pytest.approx(1000 * 4 / 310)
    ctx = analytics.page_context("harm")
    assert {c["title"] for c in ctx["charts"]} == {"Mild harm", "No harm"}
