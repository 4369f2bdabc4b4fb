"""NHSN CLABSI / CAUTI: SIR arithmetic, predicted events, and the device-day and event rules
on the FHIR test bed (given / when / then), on DuckDB and on Spark.

SIR arithmetic: the NHSN worked example (NHSN training "Using the SIR to analyze
device-associated data", Aponte-Torres Z, CDC, March 2017: 4 CLABSIs observed, 1.504 predicted,
SIR 2.660) and NHSN's rules (no SIR when predicted < 1; no lower bound when observed = 0);
mid-P intervals against ../shared/reference/nhsn_sir when present. Predicted events: the
negative-binomial arithmetic of the NHSN Guide to the SIR (predicted = device days x
exp(intercept + parameters)) with the shipped 2022 CAH CLABSI parameters.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cmo.errors import CmoError
from cmo.measures.library import nhsn
from cmo.stats.intervals import sir_midp

from .testbed import TestBed

REFERENCE = Path(__file__).parents[2] / "../shared/reference/nhsn_sir"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


# -- SIR arithmetic ----------------------------------------------------------------------------
def test_sir_worked_example_nhsn_training():
    # Given 4 observed CLABSIs and 1.504 predicted (NHSN 2017 training example)
    r = sir_midp(4, 1.504)
    # Then the SIR is 2.660, as published
    assert round(r.sir, 3) == 2.660
    assert r.ci_low < 1 < r.ci_high or r.ci_low > 1  # an interval around it, computed


def test_sir_nhsn_rules():
    # Predicted < 1: no SIR, no interval (NHSN); observed 0: no lower bound.
    r = sir_midp(np.array([2.0, 0.0]), np.array([0.99, 3.2]))
    assert np.isnan(r.sir[0]) and np.isnan(r.ci_low[0]) and np.isnan(r.ci_high[0])
    assert r.sir[1] == 0.0 and np.isnan(r.ci_low[1]) and r.ci_high[1] > 0


def test_sir_midp_against_reference():
    path = REFERENCE / "computed_UNPUBLISHED_sir_midp.csv"
    if not path.exists():
        pytest.skip("../shared/reference/nhsn_sir is not present")
    rows = list(csv.DictReader(path.open()))
    o = np.array([float(r["observed"]) for r in rows])
    e = np.array([float(r["predicted"]) for r in rows])
    got = sir_midp(o, e)
    for i, r in enumerate(rows):
        if not r["SIR"]:  # predicted < 1: no SIR (NHSN)
            assert np.isnan(got.sir[i]) and np.isnan(got.ci_high[i])
            continue
        assert got.sir[i] == pytest.approx(float(r["SIR"]), abs=5e-4)
        assert got.ci_high[i] == pytest.approx(float(r["ci_upper"]), abs=5e-4)
        if r["ci_lower"]:
            assert got.ci_low[i] == pytest.approx(float(r["ci_lower"]), abs=5e-4)
        else:
            assert np.isnan(got.ci_low[i])


def test_results_sir_uses_midp_and_nhsn_rule():
    """The results step writes the SIR (O/E) of rate measures with the mid-P interval and none
    when predicted < 1."""
    from cmo.measures import results as res
    from cmo.measures.spec import registry

    measures = registry()
    agg = pd.DataFrame(
        {
            "measure_id": ["CLABSI", "CLABSI"],
            "period_type": ["year", "year"],
            "period_start": [pd.Timestamp("2024-01-01")] * 2,
            "level": ["unit", "unit"],
            "unit_id": ["icu", "ward"],
            "denominator": [40, 12],
            "numerator": [4.0, 1.0],
            "expected": [1.504, 0.4],
            "median": [0.0, 0.0],
            "n_outcome": [40, 12],
            "sumsq": [4.0, 1.0],
            "exposure": [1000.0, 300.0],
        }
    )
    sites = pd.DataFrame({"level": ["unit", "unit"], "unit_id": ["icu", "ward"], "site_id": "h"})
    out = res.finish(agg, measures, {"CLABSI": 0.002}, {}, sites).set_index("unit_id")
    ref = sir_midp(4, 1.504)
    assert out.loc["icu", "oe"] == pytest.approx(4 / 1.504)
    assert out.loc["icu", "ci_low"] == pytest.approx(ref.ci_low)
    assert out.loc["icu", "ci_high"] == pytest.approx(ref.ci_high)
    assert out.loc["icu", "rate"] == pytest.approx(4.0)  # per 1,000 device days
    assert np.isnan(out.loc["ward", "oe"]) and np.isnan(out.loc["ward", "ci_high"])


def test_predicted_events_negative_binomial_arithmetic():
    """NHSN: predicted = device days x exp(intercept + the location's parameters)."""
    params = nhsn.sir_models()
    cah = params[(params["baseline"] == "2022-cah") & (params["event"] == "CLABSI")]
    icu = {"nhsn_type": "CC", "cdc_code": "IN:ACUTE:CC:MS"}
    ward = {"nhsn_type": "WARD", "cdc_code": "IN:ACUTE:WARD:M"}
    # A medical-surgical ICU: intercept + select critical care.
    assert 1000 * math.exp(nhsn._log_rate(cah, icu, 4.5, None)) == pytest.approx(
        1000 * math.exp(-9.029 + 1.598)
    )
    # A ward: + the ALOS term only when the facility's ALOS >= 8.9 days.
    assert nhsn._log_rate(cah, ward, 4.5, None) == pytest.approx(-9.029)
    assert nhsn._log_rate(cah, ward, 9.0, None) == pytest.approx(-9.029 + 1.027)
    # A parameter this module cannot evaluate makes the model unusable (None).
    odd = pd.DataFrame({"parameter": ["intercept", "birthweight:A"], "estimate": [-7.0, 1.0]})
    assert nhsn._log_rate(odd, icu, 4.5, None) is None


def test_cauti_ach_2022_model_by_hand():
    """NHSN 2022 baseline, CAUTI in acute care hospitals (model table 6): predicted = catheter
    days x exp(intercept + location group + beds + medical school + ALOS + ICU share), each
    term read off the table for the facility's category."""
    params = nhsn.sir_models()
    ach = params[(params["baseline"] == "2022-ach") & (params["event"] == "CAUTI")]
    teaching = {"total_beds": 450, "icu_share": 60 / 450, "medical_school": "major"}
    community = {"total_beds": 120, "icu_share": 24 / 120, "medical_school": "none"}
    icu = {"nhsn_type": "CC", "cdc_code": "IN:ACUTE:CC:MS"}  # critical care group 4
    ward = {"nhsn_type": "WARD", "cdc_code": "IN:ACUTE:WARD:MS"}  # ward group 5
    # 450 beds (>= 421), major affiliation, ALOS 5.2 (referent), ICU share 0.133 (< 0.141).
    lr = nhsn._log_rate(ach, icu, 5.2, teaching)
    assert lr == pytest.approx(-10.2778 + 2.4744 + 0.4996 + 0.2244)
    # 1,000 catheter days in that ICU: 0.842 predicted CAUTIs.
    assert 1000 * math.exp(lr) == pytest.approx(0.8423, abs=5e-5)
    # 120 beds (68-176), no affiliation, ALOS 6.0 (5.7-6.5), ICU share 0.2 (>= 0.141).
    lr = nhsn._log_rate(ach, ward, 6.0, community)
    assert lr == pytest.approx(-10.2778 + 2.4987 + 0.2577 + 0.0581 + 0.0677)
    # ALOS categories are NHSN's printed one-decimal bounds: 6.54 -> 6.5, 6.56 -> 6.6.
    assert nhsn._log_rate(ach, ward, 6.56, community) == pytest.approx(
        -10.2778 + 2.4987 + 0.2577 + 0.1833 + 0.0677
    )
    # Labor and delivery is the referent group: the intercept and facility terms only.
    ld = {"nhsn_type": "WARD", "cdc_code": "IN:ACUTE:WARD:LD"}
    assert nhsn._log_rate(ach, ld, 5.0, community) == pytest.approx(-10.2778 + 0.2577 + 0.0677)
    # A location in none of the model's groups, or no facility file: the model is not usable.
    onc = {"nhsn_type": "WARD", "cdc_code": "IN:ACUTE:WARD:ONC_HONC"}
    assert nhsn._log_rate(ach, onc, 5.0, community) is None
    assert nhsn._log_rate(ach, icu, 5.0, None) is None


def test_facility_file_is_checked(tmp_path):
    path = tmp_path / "nhsn_facility.csv"
    assert nhsn.read_facility(path) is None
    path.write_text("total_beds,icu_beds,medical_school\n300,40,Major\n")
    assert nhsn.read_facility(path) == {
        "total_beds": 300,
        "icu_share": 40 / 300,
        "medical_school": "major",
    }
    path.write_text("total_beds,icu_beds,medical_school\n300,400,major\n")
    with pytest.raises(CmoError, match="icu_beds <= total_beds"):
        nhsn.read_facility(path)
    path.write_text("total_beds,icu_beds,medical_school\nmany,4,major\n")
    with pytest.raises(CmoError, match="one row of total_beds"):
        nhsn.read_facility(path)


def test_default_locations():
    assert nhsn.default_location("u1", "Riverside Intensive Care Unit", "ICU")["cdc_code"] == (
        "IN:ACUTE:CC:MS"
    )
    ed = nhsn.default_location("u2", "Riverside Emergency Department", "ER")
    assert ed["nhsn_type"] == "ED" and not ed["in_plan"]
    assert nhsn.default_location("u3", "H1 ICU", None)["nhsn_type"] == "CC"
    assert nhsn.default_location("u4", "Behavioral Health Unit", "HU")["in_plan"] is False
    assert nhsn.default_location("u5", "Surgical Ward", "HU")["cdc_code"] == "IN:ACUTE:WARD:S"


def test_location_map_rejects_bad_types(tmp_path):
    from cmo.errors import CmoError

    path = tmp_path / "nhsn_locations.csv"
    path.write_text("unit_id,unit_name,nhsn_type,cdc_code,in_plan\nu1,X,ICU,IN:ACUTE:CC:MS,true\n")
    with pytest.raises(CmoError, match="nhsn_type"):
        nhsn.read_map(path)
    path.write_text("unit_id,unit_name,nhsn_type,cdc_code,in_plan\nu1,X,CC,IN:ACUTE:CC:MS,maybe\n")
    with pytest.raises(CmoError, match="in_plan"):
        nhsn.read_map(path)


# -- the test bed: device days and events ------------------------------------------------------
DATA_END = "2024-12-31"


def _device(bed: TestBed, did: str, patient: str, kind: str, start: str, end: str | None) -> None:
    snomed = {"cl": "52124006", "uc": "20568009"}[kind]
    bed.resources["Device"].append(
        {
            "resourceType": "Device",
            "id": did,
            "type": {"coding": [{"system": SNOMED, "code": snomed}]},
            "patient": {"reference": f"Patient/{patient}"},
        }
    )
    period = {"start": start} | ({"end": end} if end else {})
    bed.resources["DeviceUseStatement"].append(
        {
            "resourceType": "DeviceUseStatement",
            "id": f"{did}-use",
            "status": "completed",
            "subject": {"reference": f"Patient/{patient}"},
            "device": {"reference": f"Device/{did}"},
            "timingPeriod": period,
        }
    )


def _onset(bed: TestBed, cid: str, patient: str, stay: str, code: str, onset: str) -> None:
    bed.resources["Condition"].append(
        {
            "resourceType": "Condition",
            "id": cid,
            "code": {"coding": [{"system": ICD10CM, "code": code}]},
            "subject": {"reference": f"Patient/{patient}"},
            "encounter": {"reference": f"Encounter/{stay}"},
            "onsetDateTime": onset,
        }
    )


def _culture(bed: TestBed, oid: str, patient: str, loinc: str, when: str) -> None:
    bed.resources["Observation"].append(
        {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": when,
            "interpretation": [{"coding": [{"system": INTERP, "code": "POS"}]}],
        }
    )


ICU = [("loc-h1-icu-room", "2024-03-01T08:00:00Z", "2024-03-10T12:00:00Z")]


def nhsn_scenario() -> TestBed:
    bed = TestBed()
    bed.patient("pt-end", birth="1960-01-01")
    bed.ed_visit("ed-end", "pt-end", DATA_END)
    clabsi = [("T80.211A", "N")]

    def line_stay(sid: str, start: str, end: str, loc: Any = "loc-h1-icu-room", **kw: Any) -> str:
        pid = f"pt-{sid}"
        bed.patient(pid)
        bed.stay(sid, pid, start, end, location=loc, dx=["A41.9"], **kw)
        return pid

    # 1. CLABSI on central-line day 5 in the ICU, not POA: an event. The line is in from
    #    03-01 10:00 to 03-08 10:00: census (23:59:59) days 03-01..03-07 = 7 line days of the 9
    #    patient days (03-01..03-09; the discharge day has no census).
    p = line_stay("s-cl-event", "2024-03-01T08:00:00Z", "2024-03-10T12:00:00Z", claim_dx=clabsi)
    _device(bed, "d-event", p, "cl", "2024-03-01T10:00:00Z", "2024-03-08T10:00:00Z")
    _onset(bed, "c-event", p, "s-cl-event", "T80.211A", "2024-03-05T12:00:00Z")
    # 2. Onset on line day 2: not device-associated (NHSN: > 2 days in place).
    p = line_stay("s-cl-day2", "2024-04-01T08:00:00Z", "2024-04-08T12:00:00Z", claim_dx=clabsi)
    _device(bed, "d-day2", p, "cl", "2024-04-01T10:00:00Z", "2024-04-07T10:00:00Z")
    _onset(bed, "c-day2", p, "s-cl-day2", "T80.211A", "2024-04-02T12:00:00Z")
    # 3. Present on admission (POA Y): not an event, the line days still count.
    p = line_stay(
        "s-cl-poa", "2024-05-01T08:00:00Z", "2024-05-08T12:00:00Z", claim_dx=[("T80.211A", "Y")]
    )
    _device(bed, "d-poa", p, "cl", "2024-05-01T10:00:00Z", "2024-05-07T10:00:00Z")
    _onset(bed, "c-poa", p, "s-cl-poa", "T80.211A", "2024-05-05T12:00:00Z")
    # 4. No POA indicator, onset on hospital day 2 (line placed before admission, day 4): not
    #    healthcare-associated (NHSN: hospital day 3 or later).
    p = line_stay("s-cl-early", "2024-05-12T08:00:00Z", "2024-05-18T12:00:00Z")
    _device(bed, "d-early", p, "cl", "2024-05-10T10:00:00Z", "2024-05-17T10:00:00Z")
    _onset(bed, "c-early", p, "s-cl-early", "T80.211A", "2024-05-13T12:00:00Z")
    # 5. Line removed the day before the event (day 5): still device-associated.
    p = line_stay("s-cl-removed", "2024-06-01T08:00:00Z", "2024-06-09T12:00:00Z", claim_dx=clabsi)
    _device(bed, "d-removed", p, "cl", "2024-06-01T10:00:00Z", "2024-06-04T09:00:00Z")
    _onset(bed, "c-removed", p, "s-cl-removed", "T80.211A", "2024-06-05T12:00:00Z")
    # 6. Line removed two days before the event: not device-associated.
    p = line_stay("s-cl-gone", "2024-06-11T08:00:00Z", "2024-06-19T12:00:00Z", claim_dx=clabsi)
    _device(bed, "d-gone", p, "cl", "2024-06-11T10:00:00Z", "2024-06-14T09:00:00Z")
    _onset(bed, "c-gone", p, "s-cl-gone", "T80.211A", "2024-06-16T12:00:00Z")
    # 7. Transfer rule: ICU -> ward on 07-04, onset 07-05 (the day after the transfer): the
    #    event is attributed to the ICU (the transferring location).
    moves = [
        ("loc-h1-icu-room", "2024-07-01T08:00:00Z", "2024-07-04T10:00:00Z"),
        ("loc-h1-bed", "2024-07-04T10:00:00Z", "2024-07-10T12:00:00Z"),
    ]
    p = line_stay(
        "s-cl-move", "2024-07-01T08:00:00Z", "2024-07-10T12:00:00Z", moves, claim_dx=clabsi
    )
    _device(bed, "d-move", p, "cl", "2024-07-01T10:00:00Z", None)  # in until discharge
    _onset(bed, "c-move", p, "s-cl-move", "T80.211A", "2024-07-05T12:00:00Z")
    # 8. A positive blood culture on line day 4, no code: an event.
    p = line_stay("s-cl-culture", "2024-08-01T08:00:00Z", "2024-08-09T12:00:00Z")
    _device(bed, "d-culture", p, "cl", "2024-08-01T10:00:00Z", "2024-08-08T10:00:00Z")
    _culture(bed, "o-culture", p, "600-7", "2024-08-04T06:00:00Z")
    # 9. CAUTI on catheter day 4 on the ward, not POA.
    p = line_stay(
        "s-cauti",
        "2024-09-01T08:00:00Z",
        "2024-09-08T12:00:00Z",
        "loc-h1-bed",
        claim_dx=[("T83.511A", "N")],
    )
    _device(bed, "d-cauti", p, "uc", "2024-09-01T09:00:00Z", "2024-09-06T09:00:00Z")
    _onset(bed, "c-cauti", p, "s-cauti", "T83.511A", "2024-09-04T12:00:00Z")
    # 10. A stay across a month end: its line days split by month.
    p = line_stay("s-cl-month", "2024-10-30T08:00:00Z", "2024-11-03T12:00:00Z")
    _device(bed, "d-month", p, "cl", "2024-10-30T09:00:00Z", "2024-11-02T09:00:00Z")
    return bed


@pytest.fixture(scope="module")
def bed_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("nhsn")
    wh = connect(root / "warehouse.duckdb")
    nhsn_scenario().build(wh, root / "fhir")
    yield wh
    wh.close()


def _rows(wh: Any, measure_id: str) -> pd.DataFrame:
    t = wh.table("quality__measure_long")
    return t.filter(t.measure_id == measure_id).to_pandas()


def _one(frame: pd.DataFrame, stay: str, unit: str | None = None) -> dict[str, Any]:
    f = frame[frame["stay_id"] == stay]
    if unit is not None:
        f = f[f["unit_id"] == unit]
    assert len(f) == 1, f
    return dict(f.iloc[0])


def test_device_days_and_patient_days(bed_wh):
    # Then stay 1 has 7 central-line days of 9 ICU patient days (census at 23:59:59).
    cldur = _rows(bed_wh, "CLDUR")
    r = _one(cldur, "s-cl-event", "loc-h1-icu")
    assert (r["outcome"], r["exposure"]) == (7.0, 9.0)
    # The line of stay 10 is counted in the month of each census day.
    month = cldur[cldur["stay_id"] == "s-cl-month"]
    by_month = {
        str(pd.Timestamp(m).date()): v
        for m, v in zip(month["period_month"], month["outcome"], strict=True)
    }
    assert by_month == {"2024-10-01": 2.0, "2024-11-01": 1.0}
    # A line without an end stays in until discharge: 07-01..07-09, split ICU 3 / ward 6.
    move = cldur[cldur["stay_id"] == "s-cl-move"].set_index("unit_id")["outcome"].to_dict()
    assert move == {"loc-h1-icu": 3.0, "loc-h1-ward": 6.0}


def test_clabsi_events(bed_wh):
    cl = _rows(bed_wh, "CLABSI")
    events = cl.groupby("stay_id")["outcome"].sum().to_dict()
    # Counted: day-5 event, removed the day before, transfer, culture.
    for stay in ("s-cl-event", "s-cl-removed", "s-cl-move", "s-cl-culture"):
        assert events[stay] == 1.0, stay
    # Not counted: device day 2, POA Y, hospital day 2 without POA, removed two days before.
    for stay in ("s-cl-day2", "s-cl-poa", "s-cl-early", "s-cl-gone"):
        assert events.get(stay, 0.0) == 0.0, stay
    # The exposure is the line days; the predicted count is line days x the unit's rate.
    r = _one(cl, "s-cl-event", "loc-h1-icu")
    assert r["exposure"] == 7.0 and r["expected"] > 0
    # Transfer rule: the event of the day after the move belongs to the ICU.
    move = cl[cl["stay_id"] == "s-cl-move"].set_index("unit_id")["outcome"].to_dict()
    assert move == {"loc-h1-icu": 1.0, "loc-h1-ward": 0.0}


def test_cauti_event_and_internal_baseline(bed_wh):
    ca = _rows(bed_wh, "CAUTI")
    r = _one(ca, "s-cauti", "loc-h1-ward")
    assert (r["outcome"], r["exposure"]) == (1.0, 5.0)  # catheter 09-01..09-05 at census
    # The internal baseline: predicted = observed over all in-plan rows of a location type.
    assert ca["expected"].sum() == pytest.approx(ca["outcome"].sum())


def test_results_rate_per_device_day(bed_wh):
    t = bed_wh.table("quality__measure_result")
    r = (
        t.filter(
            (t.measure_id == "CLABSI")
            & (t.level == "system")
            & (t.period_type == "year")
            & (t.period_start == pd.Timestamp("2024-01-01").date())
        )
        .to_pandas()
        .iloc[0]
    )
    long = _rows(bed_wh, "CLABSI")
    assert r["exposure"] == long["exposure"].sum()
    assert r["numerator"] == 4.0
    assert r["rate"] == pytest.approx(1000 * 4.0 / r["exposure"])  # per 1,000 line days


# -- Spark -------------------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
def test_nhsn_build_equals_on_spark(bed_wh, spark_warehouse, tmp_path):
    """The NHSN and PROMIS build code gives the same long rows and results on Spark."""
    from cmo.measures.build import run

    for name in bed_wh.list_tables("fhir"):
        path = tmp_path / f"{name}.parquet"
        bed_wh.con.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        spark_warehouse.spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark_warehouse.spark.read.parquet(str(path)).write.saveAsTable(name)
    run(spark_warehouse, progress=False)
    ids = ["CLABSI", "CAUTI", "CLDUR", "UCDUR"]
    keys = ["measure_id", "stay_id", "unit_id", "period_month"]

    def frame(wh: Any, name: str, by: list[str]) -> pd.DataFrame:
        t = wh.table(name)
        f = t.filter(t.measure_id.isin(ids)).to_pandas()
        return f.sort_values(by).reset_index(drop=True)

    a, b = (
        frame(bed_wh, "quality__measure_long", keys),
        frame(spark_warehouse, "quality__measure_long", keys),
    )
    assert len(a) == len(b) > 0
    for col in ("outcome", "exposure", "expected"):
        np.testing.assert_allclose(a[col].astype(float), b[col].astype(float), atol=1e-9)
    assert a["exclusion_reason"].astype(str).tolist() == b["exclusion_reason"].astype(str).tolist()
    rk = ["measure_id", "period_type", "period_start", "level", "unit_id"]
    ra, rb = (
        frame(bed_wh, "quality__measure_result", rk),
        frame(spark_warehouse, "quality__measure_result", rk),
    )
    assert len(ra) == len(rb)
    for col in ("numerator", "exposure", "expected", "oe", "ci_low", "ci_high"):
        np.testing.assert_allclose(ra[col].astype(float), rb[col].astype(float), atol=1e-9)


def test_published_baseline_option(bed_wh, monkeypatch):
    """CMO_NHSN_BASELINE=2022-cah: predicted = device days x exp(the NHSN model) per location;
    a baseline without a model for the event falls back to the internal one."""
    from cmo import config
    from cmo.measures.spec import Context

    monkeypatch.setenv("CMO_NHSN_BASELINE", "2022-cah")
    config.reload()
    try:
        ctx = Context(
            wh=bed_wh,
            stays=bed_wh.table("core__inpatient_stay"),
            comorbidity=bed_wh.table("core__comorbidity"),
            drg=bed_wh.table("core__drg"),
            procedures=bed_wh.table("core__stay_procedure"),
            data_end=pd.Timestamp(DATA_END).date(),
        )
        rates, used = nhsn.predicted_rates(ctx, nhsn.EVENTS["CLABSI"])
        assert used == "2022-cah"
        rate = rates.set_index("unit_id")["rate"]
        assert rate["loc-h1-icu"] == pytest.approx(math.exp(-9.029 + 1.598))
        assert rate["loc-h1-ward"] == pytest.approx(math.exp(-9.029))  # ALOS < 8.9 days
        _, used = nhsn.predicted_rates(ctx, nhsn.EVENTS["CAUTI"])
        assert used == "internal"  # the CAH CAUTI model needs the facility's ICU beds
        # 2022-ach with the facility file: CAUTI from NHSN table 6; no ACH CLABSI table shipped.
        monkeypatch.setenv("CMO_NHSN_BASELINE", "2022-ach")
        config.reload()
        nhsn.facility_path().write_text("total_beds,icu_beds,medical_school\n200,20,major\n")
        rates, used = nhsn.predicted_rates(ctx, nhsn.EVENTS["CAUTI"])
        assert used == "2022-ach"
        rate = rates.set_index("unit_id")["rate"]
        # 177-420 beds, major affiliation, ALOS >= 6.6 days; ICU share 0.1 is the referent.
        assert round(nhsn._alos(ctx), 1) >= 6.6
        facility = 0.3347 + 0.2244 + 0.1833
        assert rate["loc-h1-icu"] == pytest.approx(math.exp(-10.2778 + 2.4744 + facility))
        assert rate["loc-h1-ward"] == pytest.approx(math.exp(-10.2778 + 2.4987 + facility))  # M-S
        _, used = nhsn.predicted_rates(ctx, nhsn.EVENTS["CLABSI"])
        assert used == "internal"
    finally:
        nhsn.facility_path().unlink(missing_ok=True)
        monkeypatch.delenv("CMO_NHSN_BASELINE")
        config.reload()


def test_quarterly_sir_signals():
    """A location-quarter whose SIR is far above 1 (mid-P, BH q < 0.05) signals; one near 1,
    or with fewer than 1 predicted (NHSN: no SIR), does not."""
    from datetime import date

    from cmo.measures.spec import registry

    q = pd.Timestamp("2024-04-01").date()
    results = pd.DataFrame(
        {
            "measure_id": "CLABSI",
            "period_type": "quarter",
            "period_start": [q, q, q],
            "level": "unit",
            "unit_id": ["icu", "ward", "tiny"],
            "unit_name": ["ICU", "Ward", "Tiny"],
            "site_id": "h1",
            "numerator": [10.0, 2.0, 3.0],
            "expected": [2.0, 2.1, 0.5],
        }
    )
    sig = nhsn.sir_signals(results, registry(), date(2024, 12, 31))
    assert sig["unit_id"].tolist() == ["icu"]
    assert sig.iloc[0]["kind"] == "sir" and sig.iloc[0]["direction"] == "worse"
    # An incomplete quarter is not signalled.
    assert nhsn.sir_signals(results, registry(), date(2024, 5, 31)).empty
