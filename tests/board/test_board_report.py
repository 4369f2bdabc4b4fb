"""The board report on the demo build: every section, numbers equal to the quality tables,
suppression, de-identification of the HTML and the PDF, the exports."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any

import pytest
from board_sample import QUARTER, START, demo_people

from demo_warehouse import PATIENTS

pytestmark = pytest.mark.django_db

SECTIONS = ("summary", "scorecard", "sites", "safety", "staff", "methods")


def _numbers(site: str | None = None) -> dict[str, Any]:
    from cmo.board import services

    return services.build(services.parse_period(QUARTER), site)


def _results(level: str) -> Any:
    from demo_warehouse import read_table

    t = read_table("quality__measure_result")
    return t[(t["period_type"] == "quarter") & (t["level"] == level)]


def _small(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and 1 <= round(v) <= 10


def test_quarters_are_the_complete_ones() -> None:
    from cmo.board import services

    assert services.quarters()[0].label == QUARTER
    with pytest.raises(services.BadPeriod, match="not a complete quarter"):
        services.checked_quarter("2025-Q1")
    with pytest.raises(services.BadPeriod, match="YYYY-QN"):
        services.checked_quarter("2024-13")


def test_scorecard_numbers_equal_the_quality_tables(app_rows: dict[str, Any]) -> None:
    from demo_warehouse import read_table

    numbers = _numbers()
    measures = read_table("quality__measure")
    assert {x["measure_id"] for x in numbers["scorecard"]} == set(measures["measure_id"])
    system = _results("system")
    shown = suppressed = 0
    for x in numbers["scorecard"]:
        mid = x["measure_id"]
        kind = measures.set_index("measure_id").loc[mid, "kind"]
        for key, start in (
            ("value", "2024-10-01"),
            ("prior", "2024-07-01"),
            ("last_year", "2023-10-01"),
        ):
            row = system[
                (system["measure_id"] == mid) & (system["period_start"].astype(str) == start)
            ]
            assert len(row) <= 1, (mid, start)
            if row.empty:  # no result that quarter (e.g. PROMIS follow-ups not yet due)
                assert x[key] is None, (mid, key)
                continue
            rec = row.iloc[0]
            hidden = _small(rec["denominator"]) or (kind != "mean" and _small(rec["numerator"]))
            if hidden:
                assert x[key] is None
                suppressed += key == "value"
            else:
                assert x[key] == pytest.approx(float(rec["rate"])), (mid, key)
                shown += key == "value"
            if key == "value":
                assert x["n"] == (
                    int(rec["denominator"]) if not _small(rec["denominator"]) else "<11"
                )
                if not hidden and x["risk_adjusted"] and not math.isnan(rec["oe"]):
                    assert x["oe"] == pytest.approx(float(rec["oe"]))
                    assert x["oe_text"].startswith(f"{rec['oe']:.2f}")
    assert shown and suppressed, "the demo quarter has shown and suppressed values"


def test_outcomes_by_site_equal_the_site_results() -> None:
    from demo_warehouse import read_table

    numbers = _numbers()
    sites = _results("site")
    sites = sites[sites["period_start"].astype(str) == str(START)]
    names = sorted(set(sites["unit_name"]))
    assert numbers["sites"]["sites"] == names
    measures = read_table("quality__measure").set_index("measure_id")
    rows = {r["title"]: r for g in numbers["sites"]["groups"] for r in g["rows"]}
    checked = 0
    for _, rec in sites.iterrows():
        m = measures.loc[rec["measure_id"]]
        cell = rows[m["title"]]["cells"][names.index(rec["unit_name"])]
        hidden = _small(rec["denominator"]) or (m["kind"] != "mean" and _small(rec["numerator"]))
        if hidden:
            assert cell == "suppressed"
        elif m["risk_adjusted"] and not math.isnan(rec["oe"]):
            assert cell == f"{rec['oe']:.2f}"
            checked += 1
    assert checked


def test_every_section_is_rendered(app_rows: dict[str, Any]) -> None:
    from cmo.board import render

    numbers = _numbers()
    html = render.document(numbers)
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert numbers["summary"] and all(s in html for s in numbers["summary"])
    # Without the review module one line says so, nothing is made up; with it, its counts
    # (window: the quarter's first to last day, inclusive) under the cell-size rule.
    from django.apps import apps

    if not apps.is_installed("cmo.review"):
        assert numbers["review"] is None and 'id="review-missing"' in html
    else:
        from datetime import date

        from cmo.board import deid
        from cmo.review.interface import board_counts

        raw = board_counts(START, date(2024, 12, 31))
        review = numbers["review"]
        assert 'id="review-missing"' not in html and review is not None
        for key in (
            "oppe_due",
            "oppe_done_on_time",
            "fppe_open",
            "fppe_opened",
            "fppe_closed",
            "peer_review_opened",
            "peer_review_closed",
            "peer_review_overdue",
        ):
            assert review[key] == deid.cell(raw[key]), key
        assert len(review["oppe_completion"]) == len(raw["oppe_completion"])
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_safety_and_staff_counts_are_suppressed(app_rows: dict[str, Any]) -> None:
    numbers = _numbers()
    safety, staff = numbers["safety"], numbers["staff"]
    assert safety["events"] == 17
    assert safety["by_type"]["Fall"] == "<11"
    assert safety["by_type"]["Medication or other substance"] == 14
    assert safety["by_harm"]["No harm"] == 14 and safety["by_harm"]["Mild harm"] == "<11"
    assert safety["serious"] == "<11" and safety["sentinel"] == "<11"
    assert safety["actions"] == "<11" and safety["rca"]["plan_on_time"] == "<11"
    assert safety["patient_days"] > 0 and safety["reporting_rate"] > 0
    assert staff["appointments"]["decided"] == "<11"
    assert staff["expired_credentials"] == "<11"
    assert staff["screening"]["months"] == 3 and staff["screening"]["months_screened"] == 1
    assert staff["screening"]["practitioners"] == "<11"

    # Nothing anywhere in the numbers is a count of 1 to 10.
    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k not in ("months", "months_screened"):
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, int) and not isinstance(v, bool):
            assert not 1 <= v <= 10, v

    walk({k: numbers[k] for k in ("safety", "staff")})
    walk([{"n": x["n"]} for x in numbers["scorecard"]])


def test_deid_rules() -> None:
    from cmo.board import deid

    assert [deid.cell(n) for n in (0, 1, 10, 10.4, 11, None)] == [0, "<11", "<11", "<11", 11, None]
    assert deid.rate_hidden(5, 200, counts=True) and not deid.rate_hidden(5, 200, counts=False)
    assert deid.rate_hidden(0, 7, counts=False) and not deid.rate_hidden(0, 200, counts=True)
    for bad in ({"patient_id": "p1"}, {"x": [{"practitioner_name": "A"}]}, {"when": "2024-10-03"}):
        with pytest.raises(deid.NotDeidentified):
            deid.check(bad)
    deid.check({"patient_days": 10, "month": "2024-10", "department": "Cardiology"})


def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


def _leaks(text: str, people: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Names and ids of demo people found in ``text`` (surnames outside the methods' citations,
    which name published authors)."""
    flat = re.sub(r"\s+", " ", text)
    found = []
    for p in people["patients"] + people["practitioners"]:
        for needle in (f"{p['given']} {p['family']}", f"{p['family']}, {p['given']}", p["id"]):
            if needle and needle in flat:
                found.append(needle)
        if p.get("npi") and p["npi"] in flat:
            found.append(p["npi"])
    body = flat.split("Methods")[0]
    families = {p["family"] for p in people["patients"] + people["practitioners"]}
    found += [f for f in families if re.search(rf"\b{re.escape(f)}\b", body)]
    return found


def test_html_and_pdf_name_no_patient_or_practitioner(app_rows: dict[str, Any]) -> None:
    """Every patient and practitioner of the demo, with events and files that name them."""
    from cmo.board import publish, services

    people = demo_people()
    assert len(people["patients"]) == PATIENTS and people["practitioners"]
    data = publish.numbers(services.parse_period(QUARTER), "")
    _body, html, pdf = publish.rendered(data)
    assert pdf is not None and pdf.startswith(b"%PDF")
    text = re.sub(r"<[^>]+>", " ", html)
    assert _leaks(text, people) == []
    pdf_text = _pdf_text(pdf)
    assert "Board quality report" in pdf_text and "Scorecard" in pdf_text
    assert _leaks(pdf_text, people) == []
    # Dates to the month: no full date anywhere in the numbers, the HTML text or the PDF.
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text + pdf_text + json.dumps(data))


def test_site_report_is_that_site() -> None:
    numbers = _numbers("org-h2")
    assert numbers["meta"]["site_title"] == "Northgate Community Hospital"
    assert numbers["sites"]["sites"] == ["Northgate Community Hospital"]
    site = _results("site")
    site = site[(site["unit_id"] == "org-h2") & (site["period_start"].astype(str) == str(START))]
    for x in numbers["scorecard"]:
        if x["value"] is not None:
            rec = site[site["measure_id"] == x["measure_id"]].iloc[0]
            assert x["value"] == pytest.approx(float(rec["rate"]))


def test_scorecard_csv_and_measure_report(client_for: Any, app_rows: dict[str, Any]) -> None:
    client = client_for("quality_analyst")
    response = client.get(f"/board/export/scorecard.csv?period={QUARTER}")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    numbers = _numbers()
    assert [r["measure_id"] for r in rows] == [x["measure_id"] for x in numbers["scorecard"]]
    for r, x in zip(rows, numbers["scorecard"], strict=True):
        if x["value"] is None:
            assert r["value"] == ""
        else:
            assert float(r["value"]) == pytest.approx(x["value"], abs=1e-6)
        assert r["cases"] == ("" if x["n"] is None else str(x["n"]))
    response = client.get(f"/board/export/MeasureReport.ndjson?period={QUARTER}")
    assert response.status_code == 200
    reports = [json.loads(line) for line in response.content.decode().splitlines()]
    assert reports and all(r["resourceType"] == "MeasureReport" for r in reports)
    assert {r["period"]["start"] for r in reports} == {str(START)}
    masked = 0
    for r in reports:
        for g in r["group"]:
            assert g["code"]["coding"][0]["system"].endswith(("/system", "/site"))
            for p in g["population"]:
                assert "count" not in p or not 1 <= p["count"] <= 10
                masked += "count" not in p
    assert masked, "the demo quarter has small cells to mask"
    from fhir.resources.R4B.measurereport import MeasureReport

    for r in reports:  # valid FHIR R4 resources, masked counts and all
        MeasureReport.model_validate(r)
    api = client.get(f"/api/board/scorecard?period={QUARTER}")
    assert api.status_code == 200
    assert [x["measure_id"] for x in api.json()] == [x["measure_id"] for x in numbers["scorecard"]]
    assert client.get("/api/board/scorecard?period=1999-Q1").status_code == 400
    assert client.get("/board/export/scorecard.csv?period=2024-Q9").status_code == 400
    assert client.get("/board/export/scorecard.csv?period=2024-Q1&site=x'--").status_code == 400


def test_a_harm_measure_is_picked_up_from_quality_measure(
    results_warehouse: Any, tmp_path: Any, settings: Any
) -> None:
    """A measure whose spec says group "harm" lands in the scorecard's harm group and in
    "Outcomes by site" with no code of the board's naming it (here MORT30 relabelled in a copy
    of the demo build, then published as a serving snapshot, as a build would)."""
    import shutil

    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(results_warehouse, copy)
    wh = connect(copy)
    try:
        wh.con.raw_sql("UPDATE quality__measure SET \"group\" = 'harm' WHERE measure_id = 'MORT30'")
        publish(wh, "test")
    finally:
        wh.close()
    settings.WAREHOUSE = copy
    warehouse.clear_cache()
    numbers = _numbers()
    assert [g["key"] for g in numbers["groups"]][:2] == ["outcomes", "harm"]
    row = next(x for x in numbers["scorecard"] if x["measure_id"] == "MORT30")
    assert row["group"] == "harm"
    harm = [g for g in numbers["sites"]["groups"] if g["title"].startswith("Harm")]
    # Beside the registry's own harm measures (PSIs, NHSN SIRs), with no board code naming it.
    assert numbers["sites"]["has_harm"] and row["title"] in [r["title"] for r in harm[0]["rows"]]
