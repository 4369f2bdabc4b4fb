"""PROMIS Global Health (PROMIS-10): scoring against the published raw-score-to-T-score tables,
and the pre/post rules of the joint-replacement measures on the FHIR test bed (given / when /
then), on DuckDB and on Spark.

Published tables: HealthMeasures, PROMIS Global Health scoring manual (PROMIS Scale v1.2 -
Global Health), Global Physical Health and Global Mental Health raw score -> T-score; typed in
here from the manual, independently of the shipped data file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cmo.measures.library import promis

from .testbed import TestBed

GPH = {4: 16.2, 5: 19.9, 6: 23.5, 7: 26.7, 8: 29.6, 9: 32.4, 10: 34.9, 11: 37.4, 12: 39.8}
GPH |= {13: 42.3, 14: 44.9, 15: 47.7, 16: 50.8, 17: 54.1, 18: 57.7, 19: 61.9, 20: 67.7}
GMH = {4: 21.2, 5: 25.1, 6: 28.4, 7: 31.3, 8: 33.8, 9: 36.3, 10: 38.8, 11: 41.1, 12: 43.5}
GMH |= {13: 45.8, 14: 48.3, 15: 50.8, 16: 53.3, 17: 56.0, 18: 59.0, 19: 62.5, 20: 67.6}
QUESTIONNAIRE = "http://www.healthmeasures.net/fhir/Questionnaire/promis-global-health-10"
PAIN_FOR = {5: 0, 4: 2, 3: 5, 2: 8, 1: 10}  # recoded 1-5 -> a 0-10 answer that recodes to it
DATA_END = "2024-12-31"


def _split(raw: int) -> list[int]:
    """Four item scores 1-5 that add up to ``raw`` (4-20)."""
    parts = [1, 1, 1, 1]
    rest = raw - 4
    for i in range(4):
        add = min(4, rest)
        parts[i] += add
        rest -= add
    return parts


def _items(gph: int | None, gmh: int | None, v12: bool = False) -> dict[str, int]:
    """Answers (as a patient gives them) with the given raw scores."""
    out: dict[str, int] = {"Global01": 3, "Global09": 3}
    if gph is not None:
        g03, g06, pain5, fatigue5 = _split(gph)
        out |= {"Global03": g03, "Global06": g06}
        if v12:  # v1.2: Global07r is the 0-10 item, Global08r already reversed
            out |= {"Global07r": PAIN_FOR[pain5], "Global08r": fatigue5}
        else:
            out |= {"Global07": PAIN_FOR[pain5], "Global08": 6 - fatigue5}
    if gmh is not None:
        g02, g04, g05, emotional5 = _split(gmh)
        out |= {"Global02": g02, "Global04": g04, "Global05": g05}
        out |= {"Global10r": emotional5} if v12 else {"Global10": 6 - emotional5}
    return out


def _qr(bed: TestBed, qid: str, patient: str, when: str, items: dict[str, int]) -> None:
    bed.resources["QuestionnaireResponse"].append(
        {
            "resourceType": "QuestionnaireResponse",
            "id": qid,
            "questionnaire": QUESTIONNAIRE,
            "status": "completed",
            "subject": {"reference": f"Patient/{patient}"},
            "authored": when,
            "item": [{"linkId": k, "answer": [{"valueInteger": v}]} for k, v in items.items()],
        }
    )


def promis_scenario() -> TestBed:
    bed = TestBed()
    bed.patient("pt-end", birth="1960-01-01")
    bed.ed_visit("ed-end", "pt-end", DATA_END)
    # Scoring: one response per raw score 4-20 (both scales), v1.0 and v1.2 item ids.
    bed.patient("pt-score")
    for raw in range(4, 21):
        _qr(bed, f"q-raw{raw}", "pt-score", "2024-01-15T10:00:00Z", _items(raw, raw))
        _qr(bed, f"q-v12-{raw}", "pt-score", "2024-01-15T10:00:00Z", _items(raw, raw, v12=True))
    # A missing item: the physical scale is not scored; an out-of-range answer neither.
    miss = _items(12, 12)
    del miss["Global06"]
    _qr(bed, "q-missing", "pt-score", "2024-01-15T10:00:00Z", miss)
    bad = _items(12, 12) | {"Global03": 7}
    _qr(bed, "q-bad", "pt-score", "2024-01-15T10:00:00Z", bad)

    def knee(pid: str, sid: str, start: str, end: str, **kw: Any) -> None:
        bed.patient(pid, **({"deceased": kw.pop("deceased")} if "deceased" in kw else {}))
        bed.stay(
            sid,
            pid,
            start,
            end,
            priority=kw.pop("priority", "EL"),
            dx=["M17.11"],
            procedures=[kw.pop("pcs", "0SRC0J9")],
            surgeon="pr-b",
            location="loc-h1-bed",
            **kw,
        )

    # 1. Both surveys: GPH 8 -> 16 (29.6 -> 50.8: +21.2, MID reached), GMH 12 -> 14
    #    (43.5 -> 48.3: +4.8, MID not reached).
    knee("pt-j1", "s-j1", "2024-03-01", "2024-03-04")
    _qr(bed, "q-j1-pre", "pt-j1", "2024-02-10T10:00:00Z", _items(8, 12))
    _qr(bed, "q-j1-post", "pt-j1", "2024-06-01T10:00:00Z", _items(16, 14))
    # 2. Only the baseline survey: a non-responder (in the population, no outcome).
    knee("pt-j2", "s-j2", "2024-03-05", "2024-03-08")
    _qr(bed, "q-j2-pre", "pt-j2", "2024-02-20T10:00:00Z", _items(10, 10))
    # 3. An emergency hip replacement: not in the measure.
    knee("pt-j3", "s-j3", "2024-03-10", "2024-03-15", priority="EM", pcs="0SR9019")
    # 4. The follow-up 130 days after discharge: outside the window, a non-responder.
    knee("pt-j4", "s-j4", "2024-04-01", "2024-04-04")
    _qr(bed, "q-j4-pre", "pt-j4", "2024-03-20T10:00:00Z", _items(10, 10))
    _qr(bed, "q-j4-post", "pt-j4", "2024-08-12T10:00:00Z", _items(15, 15))
    # 5. Discharged 2024-10-15: the follow-up window (to day 120) is still open at the data end.
    knee("pt-j5", "s-j5", "2024-10-12", "2024-10-15")
    # 6. Died before the follow-up: excluded, not a non-responder.
    knee("pt-j6", "s-j6", "2024-05-01", "2024-05-04", deceased="2024-06-10")
    _qr(bed, "q-j6-pre", "pt-j6", "2024-04-20T10:00:00Z", _items(10, 10))
    return bed


@pytest.fixture(scope="module")
def bed_wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("promis")
    wh = connect(root / "warehouse.duckdb")
    promis_scenario().build(wh, root / "fhir")
    yield wh
    wh.close()


def _scores(wh: Any) -> pd.DataFrame:
    from cmo.measures.spec import Context

    ctx = Context(wh=wh, stays=None, comorbidity=None, drg=None, procedures=None, data_end=None)  # type: ignore[arg-type]
    return promis.scores(ctx).to_pandas().set_index("qr_id")


def test_scoring_matches_the_published_tables(bed_wh):
    s = _scores(bed_wh)
    for raw in range(4, 21):
        for qid in (f"q-raw{raw}", f"q-v12-{raw}"):
            assert s.loc[qid, "gph"] == pytest.approx(GPH[raw]), (qid, "GPH")
            assert s.loc[qid, "gmh"] == pytest.approx(GMH[raw]), (qid, "GMH")


def test_unscorable_scales_are_null(bed_wh):
    s = _scores(bed_wh)
    assert np.isnan(s.loc["q-missing", "gph"]) and s.loc["q-missing", "gmh"] == GMH[12]
    assert np.isnan(s.loc["q-bad", "gph"]) and s.loc["q-bad", "gmh"] == GMH[12]


def test_shipped_table_is_the_published_one():
    t = promis.t_score_table()
    assert dict(zip(t[t.scale == "GPH"].raw, t[t.scale == "GPH"].t_score, strict=True)) == GPH
    assert dict(zip(t[t.scale == "GMH"].raw, t[t.scale == "GMH"].t_score, strict=True)) == GMH


def _long(wh: Any, measure_id: str) -> dict[str, dict[str, Any]]:
    t = wh.table("quality__measure_long")
    return {r["stay_id"]: r for r in t.filter(t.measure_id == measure_id).to_pyarrow().to_pylist()}


def test_change_and_mid(bed_wh):
    gph, gmh = _long(bed_wh, "PROMIS_GPH"), _long(bed_wh, "PROMIS_GMH")
    gph_mid, gmh_mid = _long(bed_wh, "PROMIS_GPH_MID"), _long(bed_wh, "PROMIS_GMH_MID")
    r = gph["s-j1"]
    assert r["outcome"] == pytest.approx(50.8 - 29.6) and r["exposure"] == 1.0
    assert r["practitioner_id"] == "pr-b"  # the operating surgeon
    assert gmh["s-j1"]["outcome"] == pytest.approx(48.3 - 43.5)
    assert gph_mid["s-j1"]["outcome"] == 1.0 and gmh_mid["s-j1"]["outcome"] == 0.0


def test_population_and_response(bed_wh):
    gph = _long(bed_wh, "PROMIS_GPH")
    # Non-responders: in the population, not excluded, no outcome, exposure 0.
    for stay in ("s-j2", "s-j4"):
        r = gph[stay]
        assert r["in_population"] and not r["excluded"]
        assert r["outcome"] is None and r["exposure"] == 0.0
    assert "s-j3" not in gph  # emergency surgery
    assert gph["s-j5"]["in_population"] is False  # follow-up window still open
    assert gph["s-j6"]["exclusion_reason"] == "died_before_followup"


def test_results_carry_the_response_rate(bed_wh):
    t = bed_wh.table("quality__measure_result")
    r = (
        t.filter((t.measure_id == "PROMIS_GPH") & (t.level == "system") & (t.period_type == "year"))
        .to_pandas()
        .iloc[0]
    )
    # Eligible s-j1, s-j2, s-j4 (s-j6 excluded, s-j5 not yet due): 1 responder of 3.
    assert r["denominator"] == 3 and r["exposure"] == 1.0
    assert r["rate"] == pytest.approx(50.8 - 29.6)  # the mean over responders


@pytest.mark.spark
@pytest.mark.slow
def test_promis_build_equals_on_spark(bed_wh, spark_warehouse, tmp_path):
    from cmo.measures.build import run

    for name in bed_wh.list_tables("fhir"):
        path = tmp_path / f"{name}.parquet"
        bed_wh.con.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        spark_warehouse.spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark_warehouse.spark.read.parquet(str(path)).write.saveAsTable(name)
    run(spark_warehouse, progress=False)
    for mid in ("PROMIS_GPH", "PROMIS_GMH_MID"):
        a, b = _long(bed_wh, mid), _long(spark_warehouse, mid)
        assert a.keys() == b.keys()
        for stay in a:
            for col in ("outcome", "exposure", "in_population", "exclusion_reason"):
                va, vb = a[stay][col], b[stay][col]
                if isinstance(va, float):
                    assert vb == pytest.approx(va), (mid, stay, col)
                else:
                    assert va == vb, (mid, stay, col)


def test_pages_show_the_response_rate_beside_the_value():
    """The quality pages word a result's exposure: a survey's response rate, a rate's days."""
    from cmo.quality.analysis import fmt_exposure

    survey = {"kind": "mean", "unit": "T-score points"}
    assert fmt_exposure({"exposure": 21.0, "denominator": 30}, survey) == "70% responded (21 of 30)"
    assert fmt_exposure({"exposure": None, "denominator": 30}, survey) is None
    rate = {"kind": "rate", "unit": "per 1,000 central-line days"}
    assert fmt_exposure({"exposure": 4823.0, "denominator": 1877}, rate) == "4,823 device days"
