"""Safety analytics read the registry's safety measures (built by the real pipeline from an
``app__safety_event`` export and the NHSN patient days), count the strata by event type and harm
over the registry's patient days, and chart them on the SPC engine's u-chart."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from safety_sample import REGISTRY_UNIT

from cmo.safety import analytics


def _table(path: Any, name: str) -> pd.DataFrame:
    from cmo.warehouse import connect

    with connect(path, read_only=True) as wh:
        return wh.table(name).to_pandas()


def test_patient_days_are_the_registrys_nhsn_census(registry_warehouse: Any) -> None:
    # Given 10 beds always full (back-to-back 10-day stays admitted at 10:00)
    # When the app reads the patient days
    unit = analytics.patient_days(REGISTRY_UNIT).set_index("month")["patient_days"]
    system = analytics.patient_days().set_index("month")["patient_days"]
    # Then they are the NHSN census at 23:59:59: 10 a day, 310 in March, 290 in February 2024
    assert unit[date(2024, 3, 1)] == 310 and unit[date(2024, 2, 1)] == 290
    assert system[date(2024, 3, 1)] == 310


@pytest.mark.django_db
def test_summary_is_the_registrys_latest_complete_quarter(
    registry_warehouse: Any, make_event: Any
) -> None:
    make_event()
    facts = analytics.summary(analytics.event_rows())
    assert facts["quarter"] == date(2025, 10, 1)  # the data end is in January 2026
    values = {r["measure_id"]: r["value"] for r in facts["measures"]}
    assert set(values) == set(analytics.MEASURES)
    # 2025: one fall a month over 10 x 92 patient days in Q4.
    assert values["SAFETY_EVENTS"] == pytest.approx(1000 * 3 / 920)
    assert values["SAFETY_HARM"] == pytest.approx(1000 * 3 / 920)
    assert values["NEAR_MISS_RATIO"] == 0.0 and values["SAFETY_CLOSE"] == 5.0
    assert facts["n_events"] == 1  # the app's own events, counted for the harm mix


@pytest.mark.django_db
def test_all_and_unit_charts_are_the_builds(registry_warehouse: Any, directory: Any) -> None:
    points = _table(registry_warehouse, "quality__chart_point")
    points = points[points["measure_id"] == "SAFETY_EVENTS"]
    ctx = analytics.page_context("all")
    assert ctx["problem"] is None
    [chart] = ctx["charts"]
    stored = points[points["level"] == "system"]
    assert [round(v["y"], 9) for v in chart["spec"]["data"]["values"]] == [
        round(y, 9) for y in stored["y"]
    ]
    ctx = analytics.page_context("unit")
    assert [c["title"] for c in ctx["charts"]] == ["Riverside ICU"]
    unit = points[(points["level"] == "unit") & (points["unit_id"] == REGISTRY_UNIT)]
    assert len(ctx["charts"][0]["spec"]["data"]["values"]) == len(unit) > 12


@pytest.mark.django_db
def test_strata_by_harm_over_the_registrys_patient_days(
    make_event: Any, directory: Any, registry_warehouse: Any
) -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    for k in range(12):
        when = start + timedelta(days=31 * k)
        make_event(occurred_at=when, reported_at=when)
        make_event(occurred_at=when, reported_at=when, category="near_miss", harm="none")
    ctx = analytics.page_context("harm")
    assert {c["title"] for c in ctx["charts"]} == {"Mild harm", "No harm"}
    events = analytics.event_rows()
    series = analytics.monthly_rate(events, analytics.patient_days(REGISTRY_UNIT))
    frame = analytics.u_chart(series)
    assert frame is not None and frame.attrs["chart"] == "u"
    # January 2024: a fall and a near miss over 310 patient days.
    assert frame.iloc[0]["y"] == pytest.approx(1000 * 2 / 310)


@pytest.mark.django_db
def test_export_rows_carry_no_identity_and_days_to_close(make_event: Any) -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    make_event(occurred_at=start, reported_at=start, closed_at=start + timedelta(days=6))
    make_event(occurred_at=start, reported_at=start, anonymous=True)
    rows = analytics.event_rows()
    assert list(rows.columns) == analytics.EXPORT_COLUMNS
    assert sorted(rows["days_to_close"].dropna()) == [6]
    assert rows["anonymous"].tolist().count(True) == 1


@pytest.mark.django_db
def test_board_patient_days_are_the_registrys(registry_warehouse: Any, make_event: Any) -> None:
    from cmo.safety.interface import board_counts

    make_event(occurred_at=datetime(2024, 2, 1, tzinfo=UTC))
    counts = board_counts(date(2024, 1, 1), date(2024, 4, 1))
    assert counts["patient_days"] == 310 + 290 + 310
    assert counts["reporting_rate"] == pytest.approx(1000 * 1 / 910)


def test_no_rates_before_the_measures_have_them(
    settings: Any, tmp_path: Any, db: Any, results_warehouse: Any
) -> None:
    """A build without app__safety_event: the page says where the rates come from."""
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

    path = tmp_path / "warehouse.duckdb"
    with connect(path) as wh:
        wh.write("fhir__encounter", pd.DataFrame({"id": ["E1"]}))
        publish(wh, "test")
    settings.WAREHOUSE = path
    warehouse.clear_cache()
    ctx = analytics.page_context("all")
    assert ctx["charts"] == [] and "cmo measures run" in json.dumps(ctx["problem"])
