"""At the default size (20k patients) the crude rates land in the documented ranges and the
planted signals are visible in crude numbers computed straight from the NDJSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cmo.demo.crude import crude_rates, format_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rates(default_export: Path) -> dict:
    return crude_rates(default_export)


def test_system_rates_in_documented_ranges(rates: dict) -> None:
    # docs/demo-data.md: US general acute hospitals, crude in-hospital mortality ~2-3%,
    # 30-day readmission ~13-16%, ALOS ~4.0-5.0 days (per-case LOS calibrated to the CMS FY2026
    # Table 5 arithmetic mean LOS of the MS-DRGs the stays group to).
    assert 6_000 < rates["stays"] < 12_000
    assert 0.02 <= rates["in_hospital_mortality"] <= 0.035
    assert 0.13 <= rates["readmission_30d"] <= 0.165
    assert 4.0 <= rates["mean_los"] <= 5.0
    assert rates["in_hospital_mortality"] < rates["mortality_30d"] < 0.10
    assert rates["transfers_in"] > 50


def test_icu_mortality_rises_in_the_last_six_months(rates: dict) -> None:
    before, n_before = rates["icu_mortality"]["before"]
    recent, n_recent = rates["icu_mortality"]["recent"]
    assert n_before > 150 and n_recent > 50
    assert recent > 1.8 * before


def test_surgeon_complications_and_readmissions_about_three_times_peers(rates: dict) -> None:
    s, p = rates["surgeon"]["signal"], rates["surgeon"]["peers"]
    assert s["stays"] > 100 and p["stays"] > 200
    assert s["complication"] > 2 * p["complication"]
    assert s["readmission"] > 2 * p["readmission"]


def test_clabsi_cluster_in_one_quarter(rates: dict) -> None:
    c = rates["clabsi"]
    assert c["quarter_events"] >= 4
    assert c["quarter_events"] > 5 * c["other_events_per_quarter"]


def test_hospitalist_los_about_one_point_four_times_peers(rates: dict) -> None:
    signal, n = rates["los_physician"]["signal"]
    peers, n_peers = rates["los_physician"]["peers"]
    assert n > 100 and n_peers > 500
    assert 1.25 < signal / peers < 1.7


def test_signals_json_describes_each_signal(default_export: Path, rates: dict) -> None:
    doc = orjson.loads((default_export / "signals.json").read_bytes())
    ids = {s["id"] for s in doc["signals"]}
    assert ids == {
        "icu-mortality-rising",
        "surgeon-complications",
        "clabsi-cluster",
        "physician-los",
    }
    for s in doc["signals"]:
        assert s["direction"] == "worse"
        assert s["period_start"] < s["period_end"]
        assert s["observed"]
    # The generator's own tally agrees with the crude count from the NDJSON.
    totals = doc["totals"]
    assert totals["inpatient_stays"] == rates["stays"]
    assert "in-hospital mortality" in format_report(rates)
