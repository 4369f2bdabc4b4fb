"""The safety measures (SAFETY_EVENTS, SAFETY_HARM, NEAR_MISS_RATIO, SAFETY_CLOSE) on the FHIR
test bed with an ``app__safety_event`` table as the app-data sync writes it (given / when /
then), on DuckDB and on Spark.

Patient days are the NHSN ones (census at 23:59:59 at the ward-level unit occupied then,
``nhsn.unit_months``); events carry a unit and dates but no stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cmo.measures import safety

from .testbed import TestBed

DATA_END = "2024-12-31"
IDS = ["SAFETY_EVENTS", "SAFETY_HARM", "NEAR_MISS_RATIO", "SAFETY_CLOSE"]
WARD, ICU, WARD2 = "loc-h1-ward", "loc-h1-icu", "loc-h2-ward"


def scenario() -> TestBed:
    bed = TestBed()
    bed.patient("pt-end")
    bed.ed_visit("ed-end", "pt-end", DATA_END)
    # H1 ward: 03-01 08:00 .. 03-11 12:00 = census days 03-01..03-10: 10 patient days.
    bed.patient("pt-w1")
    bed.stay("s-w1", "pt-w1", "2024-03-01T08:00:00Z", "2024-03-11T12:00:00Z", dx=["J18.9"])
    # H1 ICU: 03-05..03-07 = 3 patient days.
    bed.patient("pt-icu")
    bed.stay(
        "s-icu",
        "pt-icu",
        "2024-03-05T08:00:00Z",
        "2024-03-08T12:00:00Z",
        location="loc-h1-icu-room",
        dx=["A41.9"],
    )
    # H2 ward: 03-02..03-05 = 4 patient days and no event there.
    bed.patient("pt-h2")
    bed.stay(
        "s-h2",
        "pt-h2",
        "2024-03-02T10:00:00Z",
        "2024-03-06T10:00:00Z",
        provider="org-h2-med",
        location="loc-h2-bed",
        dx=["J18.9"],
    )
    # Same-day stay on the H1 ward: no census at 23:59:59, no patient day (NHSN).
    bed.patient("pt-same")
    bed.stay("s-same", "pt-same", "2024-03-20T08:00:00Z", "2024-03-20T18:00:00Z", dx=["J18.9"])
    # Across a month end on the H1 ward: 2 days in April, 1 in May.
    bed.patient("pt-move")
    bed.stay("s-move", "pt-move", "2024-04-29T08:00:00Z", "2024-05-02T12:00:00Z", dx=["J18.9"])
    return bed


def _event(eid: int, when: str, unit: str | None, **kw: Any) -> dict[str, Any]:
    site = None if unit is None else ("org-h2" if unit == WARD2 else "org-h1")
    row: dict[str, Any] = {c: None for c in safety.EXPORT_SCHEMA}
    row.update(
        event_id=eid,
        source="report",
        event_type="other",
        category="incident",
        harm="none",
        occurred_date=date.fromisoformat(when),
        reported_date=date.fromisoformat(when),
        site_id=kw.pop("site", site),
        department_id=None if site is None else f"{site}-med",
        unit_id=unit,
        status="new",
        sentinel=False,
        anonymous=False,
    )
    row.update(kw)
    return row


EVENTS = [
    # A fall with mild harm on the H1 ward, closed after 7 days.
    _event(
        1,
        "2024-03-03",
        WARD,
        event_type="fall",
        harm="mild",
        closed_date=date(2024, 3, 10),
        days_to_close=7,
        status="closed",
    ),
    # An anonymous near miss on the H1 ward: counts like any other report.
    _event(2, "2024-03-04", WARD, category="near_miss", harm=None, anonymous=True),
    # The EHR's AdverseEvent with moderate harm in the ICU.
    _event(3, "2024-03-06", ICU, source="ehr", event_type="infection", harm="moderate"),
    # An unsafe condition on the H1 ward in May, closed after 2 days.
    _event(
        4,
        "2024-05-01",
        WARD,
        category="unsafe",
        harm=None,
        closed_date=date(2024, 5, 3),
        days_to_close=2,
        status="closed",
    ),
    # Before the first month with patient days and after the data end: not counted.
    _event(5, "2023-06-01", WARD),
    _event(6, "2025-01-05", WARD),
    # No unit (a report about the hospital as a whole): counts for the system and its site.
    _event(7, "2024-03-15", None, site="org-h1"),
]


def event_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema([(n, getattr(pa, k)()) for n, k in safety.EXPORT_SCHEMA.items()])
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture(scope="module")
def safety_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("safety")
    wh = connect(root / "warehouse.duckdb")
    # Given the app-data sync's export of the events (written before the build reads it)
    wh.write(safety.EVENT_TABLE, event_table(EVENTS))
    # When the measures are built
    scenario().build(wh, root / "fhir")
    yield wh
    wh.close()


def _results(wh: Any, measure_id: str, level: str, period: str = "month") -> pd.DataFrame:
    t = wh.table("quality__measure_result")
    t = t.filter((t.measure_id == measure_id) & (t.level == level) & (t.period_type == period))
    return t.to_pandas()


def _at(frame: pd.DataFrame, unit: str, month: str) -> dict[str, Any]:
    starts = pd.to_datetime(frame["period_start"]).dt.date
    f = frame[(frame["unit_id"] == unit) & (starts == date.fromisoformat(month))]
    assert len(f) == 1, f
    return dict(f.iloc[0])


def test_patient_days_follow_the_nhsn_census(safety_wh):
    # Then the patient-day rows are the NHSN ones: 23:59:59 census at the unit, no day for
    # the same-day stay, the month-crossing stay split by month.
    t = safety_wh.table("quality__measure_long")
    rows = t.filter((t.measure_id == "SAFETY_EVENTS") & t.stay_id.notnull()).to_pandas()
    days = {
        (r.stay_id, r.unit_id, pd.Timestamp(r.period_month).date()): r.exposure
        for r in rows.itertuples()
        if r.exposure > 0
    }
    assert days == {
        ("s-w1", WARD, date(2024, 3, 1)): 10.0,
        ("s-icu", ICU, date(2024, 3, 1)): 3.0,
        ("s-h2", WARD2, date(2024, 3, 1)): 4.0,
        ("s-move", WARD, date(2024, 4, 1)): 2.0,
        ("s-move", WARD, date(2024, 5, 1)): 1.0,
    }
    nhsn_days = t.filter((t.measure_id == "CLDUR") & (t.stay_id == "s-w1")).to_pandas()
    assert nhsn_days["exposure"].sum() == 10.0  # the same patient days as the NHSN measures


def test_events_without_a_stay_count_at_their_unit_and_month(safety_wh):
    units = _results(safety_wh, "SAFETY_EVENTS", "unit")
    # The fall and the anonymous near miss on the H1 ward in March over its 10 patient days.
    ward = _at(units, WARD, "2024-03-01")
    assert (ward["numerator"], ward["exposure"]) == (2.0, 10.0)
    assert ward["rate"] == pytest.approx(200.0)  # per 1,000 patient days
    icu = _at(units, ICU, "2024-03-01")
    assert (icu["numerator"], icu["exposure"]) == (1.0, 3.0)
    # The event without a unit counts at the system: 4 events over 17 patient days in March.
    system = _at(_results(safety_wh, "SAFETY_EVENTS", "system"), "all", "2024-03-01")
    assert (system["numerator"], system["exposure"]) == (4.0, 17.0)
    # Events outside the data (before the first patient day, after the data end) count nowhere.
    year = _results(safety_wh, "SAFETY_EVENTS", "system", "year")
    assert year["numerator"].sum() == 5.0


def test_a_unit_without_events_has_rate_zero_with_its_patient_days(safety_wh):
    h2 = _at(_results(safety_wh, "SAFETY_EVENTS", "unit"), WARD2, "2024-03-01")
    assert (h2["numerator"], h2["exposure"], h2["rate"]) == (0.0, 4.0, 0.0)
    april = _at(_results(safety_wh, "SAFETY_EVENTS", "unit"), WARD, "2024-04-01")
    assert (april["numerator"], april["exposure"]) == (0.0, 2.0)


def test_harm_rate_and_its_expected_by_location_type(safety_wh):
    units = _results(safety_wh, "SAFETY_HARM", "unit")
    ward = _at(units, WARD, "2024-03-01")
    assert ward["numerator"] == 1.0  # the mild fall; the near miss is not harm
    # Wards pool 1 harm event over 17 ward patient days (H1 13, H2 4); the ICU 1 over 3.
    assert ward["expected"] == pytest.approx(10 / 17)
    icu = _at(units, ICU, "2024-03-01")
    assert icu["numerator"] == 1.0 and icu["expected"] == pytest.approx(1.0)


def test_near_miss_ratio_counts_staff_reports(safety_wh):
    system = _results(safety_wh, "NEAR_MISS_RATIO", "system", "year")
    # Staff reports in the data: the fall, the near miss, the unsafe condition, the report
    # without a unit; the EHR event is excluded. 1 near miss of 4.
    row = system.iloc[0]
    assert (row["numerator"], row["denominator"]) == (1.0, 4)
    assert row["rate"] == pytest.approx(0.25)


def test_days_to_close_is_the_median_by_closure_month(safety_wh):
    system = _results(safety_wh, "SAFETY_CLOSE", "system")
    assert _at(system, "all", "2024-03-01")["rate"] == 7.0
    assert _at(system, "all", "2024-05-01")["rate"] == 2.0
    year = _results(safety_wh, "SAFETY_CLOSE", "system", "year").iloc[0]
    assert year["rate"] == pytest.approx(4.5)  # the median of 7 and 2


def test_no_practitioner_level(safety_wh):
    t = safety_wh.table("quality__measure_result")
    prac = t.filter(t.measure_id.isin(IDS) & (t.level == "practitioner")).count().execute()
    assert prac == 0
    long = safety_wh.table("quality__measure_long")
    named = long.filter(long.measure_id.isin(IDS) & long.practitioner_id.notnull())
    assert named.count().execute() == 0


def test_registered_with_group_and_direction(safety_wh):
    m = safety_wh.table("quality__measure").to_pandas().set_index("measure_id")
    assert m.loc["SAFETY_EVENTS", "direction"] == "higher"
    assert m.loc["SAFETY_HARM", "direction"] == "lower"
    assert m.loc["NEAR_MISS_RATIO", "direction"] == "higher"
    assert m.loc["SAFETY_CLOSE", "direction"] == "lower"
    assert m.loc["SAFETY_CLOSE", "group"] == "efficiency"
    assert set(m.loc[["SAFETY_EVENTS", "SAFETY_HARM", "NEAR_MISS_RATIO"], "group"]) == {"harm"}


def test_without_app_table_no_rows_and_a_note(tmp_path):
    from cmo.warehouse import connect

    # Given a fresh warehouse: no app__safety_event (no app database was ever synced)
    wh = connect(tmp_path / "warehouse.duckdb")
    try:
        # When the measures are built
        result = scenario().build(wh, tmp_path / "fhir")
        # Then the safety measures have no rows, and the build says why
        t = wh.table("quality__measure_long")
        assert t.filter(t.measure_id.isin(IDS)).count().execute() == 0
        assert any("app__safety_event" in n for n in result.inputs)
        assert wh.table("quality__measure_result").count().execute() > 0  # the others built
    finally:
        wh.close()


def test_an_app_without_events_is_a_rate_of_zero(tmp_path):
    from cmo.warehouse import connect

    # Given a synced app with no event yet (an empty app__safety_event)
    wh = connect(tmp_path / "warehouse.duckdb")
    try:
        wh.write(safety.EVENT_TABLE, event_table([]))
        result = scenario().build(wh, tmp_path / "fhir")
        # Then every unit has its patient days and no events, and the build says so
        t = wh.table("quality__measure_result")
        year = t.filter(
            (t.measure_id == "SAFETY_EVENTS") & (t.level == "system") & (t.period_type == "year")
        ).to_pandas()
        assert (year["numerator"].sum(), year["exposure"].sum()) == (0.0, 20.0)
        assert any("has no events" in n for n in result.inputs)
    finally:
        wh.close()


@pytest.mark.slow
def test_cli_run_says_why_and_reads_the_sync_export(tmp_path):
    """`cmo measures run` on a fresh warehouse: no app__safety_event, said in one line; its sync
    exports the app's events, and the next run (sync before the build) counts them."""
    from typer.testing import CliRunner

    from cmo.cli import app
    from cmo.fhir.ingest import ingest
    from cmo.warehouse import connect

    path = tmp_path / "warehouse.duckdb"
    with connect(path) as wh:
        ingest([scenario().write(tmp_path / "fhir")], wh, progress=False)
    runner = CliRunner()
    first = runner.invoke(app, ["measures", "run", "--warehouse", str(path)])
    assert first.exit_code == 0, first.output
    assert "safety measures have no rows: the warehouse has no app__safety_event" in first.output
    exported = [line for line in first.output.splitlines() if line.startswith("exported")]
    assert exported and "app__safety_event" in exported[-1]  # the sync after the build
    second = runner.invoke(app, ["measures", "run", "--warehouse", str(path)])
    assert second.exit_code == 0, second.output
    assert "have no rows" not in second.output
    with connect(path, read_only=True) as wh:
        t = wh.table("quality__measure_long")
        assert t.filter(t.measure_id == "SAFETY_EVENTS").count().execute() > 0


# -- Spark -------------------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
def test_safety_build_equals_on_spark(safety_wh, spark_warehouse, tmp_path):
    """The same long rows and results on Spark as on DuckDB."""
    from cmo.measures.build import run

    for name in [*safety_wh.list_tables("fhir"), safety.EVENT_TABLE]:
        path = tmp_path / f"{name}.parquet"
        safety_wh.con.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        spark_warehouse.spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark_warehouse.spark.read.parquet(str(path)).write.saveAsTable(name)
    run(spark_warehouse, progress=False)

    def frame(wh: Any, name: str, by: list[str]) -> pd.DataFrame:
        t = wh.table(name)
        f = t.filter(t.measure_id.isin(IDS)).to_pandas()
        f = f.assign(**{c: f[c].astype(str) for c in by})
        return f.sort_values(by).reset_index(drop=True)

    keys = ["measure_id", "stay_id", "unit_id", "period_month", "evidence_date", "outcome"]
    a = frame(safety_wh, "quality__measure_long", keys)
    b = frame(spark_warehouse, "quality__measure_long", keys)
    assert len(a) == len(b) > 0
    for col in ("outcome", "exposure", "expected"):
        np.testing.assert_allclose(a[col].astype(float), b[col].astype(float), atol=1e-9)
    assert a["in_population"].tolist() == b["in_population"].tolist()
    rk = ["measure_id", "period_type", "period_start", "level", "unit_id"]
    ra = frame(safety_wh, "quality__measure_result", rk)
    rb = frame(spark_warehouse, "quality__measure_result", rk)
    assert len(ra) == len(rb) > 0
    for col in ("numerator", "exposure", "expected", "rate", "oe"):
        np.testing.assert_allclose(ra[col].astype(float), rb[col].astype(float), atol=1e-9)
