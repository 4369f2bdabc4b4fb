"""Given / when / then: unit exposure (core__stay_unit) and unit-level attribution.

Given: an ICU survivor stepped down to the ward (``s-icu-live``) and a death in the ICU
(``s-icu-dead``), both at hospital 1 in September 2024 (``conftest.scenario``).
"""

from __future__ import annotations

from datetime import date, datetime

from cmo.measures.core import stays_in_unit

from .testbed import long_rows


def _units(wh, stay: str) -> dict[str, dict]:
    t = wh.table("core__stay_unit")
    rows = t.filter(t.stay_id == stay).to_pyarrow().to_pylist()
    return {r["unit_id"]: r for r in rows}


def _imort_sept(wh, level: str, unit: str) -> dict:
    t = wh.table("quality__measure_result")
    t = t.filter(
        (t.measure_id == "IMORT")
        & (t.period_type == "month")
        & (t.period_start == date(2024, 9, 1))
        & (t.level == level)
        & (t.unit_id == unit)
    )
    rows = t.to_pyarrow().to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


def test_stay_unit_lists_every_ward_level_unit_with_times_and_discharge_flag(built):
    units = _units(built, "s-icu-live")
    assert set(units) == {"loc-h1-icu", "loc-h1-ward"}
    icu, ward = units["loc-h1-icu"], units["loc-h1-ward"]
    assert (icu["first_ts"], icu["last_ts"]) == (
        datetime(2024, 9, 2, 8),
        datetime(2024, 9, 5, 10),
    )
    assert (ward["first_ts"], ward["last_ts"]) == (
        datetime(2024, 9, 5, 10),
        datetime(2024, 9, 9, 12),
    )
    assert not icu["is_discharge_unit"] and ward["is_discharge_unit"]
    dead = _units(built, "s-icu-dead")
    assert set(dead) == {"loc-h1-icu"} and dead["loc-h1-icu"]["is_discharge_unit"]


def test_long_row_unit_is_the_discharge_unit(built):
    imort = long_rows(built, "IMORT")
    assert imort["s-icu-live"]["unit_id"] == "loc-h1-ward"
    assert imort["s-icu-dead"]["unit_id"] == "loc-h1-icu"


def test_icu_mortality_denominator_is_every_stay_with_icu_time(built):
    icu = _imort_sept(built, "unit", "loc-h1-icu")
    assert (icu["denominator"], icu["numerator"]) == (2, 1.0)
    assert icu["site_id"] == "org-h1" and icu["unit_name"] == "H1 ICU"


def test_unit_rows_do_not_add_up_to_the_site(built):
    site = _imort_sept(built, "site", "org-h1")
    ward = _imort_sept(built, "unit", "loc-h1-ward")
    icu = _imort_sept(built, "unit", "loc-h1-icu")
    # The survivor counts at the ICU and at the ward: one more than the site's stays.
    assert ward["denominator"] + icu["denominator"] == site["denominator"] + 1
    assert ward["numerator"] + icu["numerator"] == site["numerator"]


def test_stays_in_unit_returns_the_stays_that_passed_through(built):
    ids = set(stays_in_unit(built, "loc-h1-icu").to_pyarrow().column("stay_id").to_pylist())
    assert ids == {"s-icu-live", "s-icu-dead"}
    ward = set(stays_in_unit(built, "loc-h1-ward").to_pyarrow().column("stay_id").to_pylist())
    assert "s-icu-live" in ward and "s-icu-dead" not in ward


def test_stays_in_unit_falls_back_to_the_discharge_unit_without_exposure_table(warehouse):
    import pyarrow as pa

    warehouse.write(
        "core__inpatient_stay",
        pa.table({"stay_id": ["s1", "s2", "s3"], "unit_id": ["u1", "u2", None]}),
    )
    ids = stays_in_unit(warehouse, "u1").to_pyarrow().column("stay_id").to_pylist()
    assert ids == ["s1"]
    unknown = stays_in_unit(warehouse, "unknown").to_pyarrow().column("stay_id").to_pylist()
    assert unknown == ["s3"]
