"""Pages on a contract-shaped results warehouse: what each role sees, and the access log."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from cmo.web.models import AccessLog

pytestmark = pytest.mark.django_db


def test_dashboard_has_a_tile_per_measure_with_people_formatted_numbers(client_for: Any) -> None:
    html = client_for("cmo").get("/quality/").content.decode()
    for title in ("Inpatient mortality", "30-day readmission", "Length of stay"):
        assert title in html
    assert len(re.findall(r'<article class="tile', html)) == 3
    assert re.search(r'class="big">\d+\.\d%<', html), "proportions shown as percentages"
    assert re.search(r"\d\.\d\d \(95% CI \d\.\d\d–\d\.\d\d\)", html), "O/E with its CI"
    assert re.search(r'class="big">\d+\.\d\d days<', html), "means with their unit"
    assert "Target" in html and "2.0%" in html  # mortality target 0.02 shown as a percentage
    assert 'id="spark-mort_inpatient" type="application/json"' in html


def test_dashboard_attention_list_names_practitioners_only_for_allowed_roles(
    client_for: Any,
) -> None:
    cmo_html = client_for("cmo").get("/quality/").content.decode()
    assert "Coronary care" in cmo_html and "Dr P007" in cmo_html
    board = client_for("board_member").get("/quality/").content.decode()
    assert "Coronary care" in board
    assert "Dr P007" not in board and "name visible to authorised roles" in board


def test_site_filter_changes_the_numbers(client_for: Any) -> None:
    client = client_for("cmo")
    system = client.get("/quality/").content.decode()
    site = client.get("/quality/?site=S2").content.decode()
    assert "Hillcrest Hospital" in site
    values = lambda h: re.findall(r'class="big">([^<]+)<', h)  # noqa: E731
    assert values(system) != values(site)
    assert client.get("/quality/?site=NOPE").status_code == 400


def test_measure_page_sections(client_for: Any) -> None:
    html = client_for("quality_analyst").get("/quality/measure/mort_inpatient/").content.decode()
    assert "AHRQ IQI 91" in html  # the citation from the measure spec
    spec = json.loads(
        re.search(r'id="control-spec" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert spec["layer"] and len(spec["data"]["values"]) == 24
    assert len(re.findall(r"<tr><th scope=\"row\">[A-Z][a-z]{2} \d{4}</th>", html)) == 24
    assert "Hillcrest Hospital" in html and "Cardiology" in html and "Coronary care" in html
    assert "C-STATISTIC" in html.upper()
    calib = json.loads(
        re.search(
            r'id="calibration-spec" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    points = calib["layer"][1]["data"]["values"]
    assert len(points) == 10
    assert all(0 < p["predicted"] < 100 and 0 <= p["observed"] <= 100 for p in points)
    assert 'id="funnel-spec"' in html and "Outside the funnel limits" in html
    assert "/patients/?" in html  # drill-down links for a role allowed patient data


def test_measure_page_hides_names_and_drilldown_from_the_board(client_for: Any) -> None:
    html = client_for("board_member").get("/quality/measure/mort_inpatient/").content.decode()
    funnel = json.loads(
        re.search(r'id="funnel-spec" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert {v["who"] for v in funnel["data"]["values"]} == {"Practitioner"}
    assert "Dr P0" not in html
    assert "/patients/?" not in html


def test_unknown_measure_is_404(client_for: Any) -> None:
    assert client_for("cmo").get("/quality/measure/nope/").status_code == 404


def test_drilldown_lists_the_stays_and_logs_the_patients(client_for: Any) -> None:
    url = (
        "/quality/measure/mort_inpatient/patients/"
        "?period_type=quarter&period_start=2026-10-01&level=unit&unit_id=U-CCU"
    )
    html = client_for("safety_officer").get(url).content.decode()
    shown = set(re.findall(r'<th scope="row">(PT\d+)</th>', html))
    assert shown, "the stays behind the number"
    assert "Unit Coronary care" in html  # the unit's name, not its id
    entry = AccessLog.objects.get()
    assert entry.username == "t_safety_officer"
    assert set(entry.patient_ids) == shown and entry.n_patients == len(shown)
    assert entry.filters["unit_id"] == "U-CCU" and entry.filters["level"] == "unit"
    assert entry.page == url and entry.via == "web"


def test_chair_sees_only_their_departments(client_for: Any) -> None:
    client = client_for("department_chair")
    base = "/quality/measure/mort_inpatient/patients/?period_type=year&period_start=2026-01-01"
    html = client.get(base).content.decode()
    rows = re.findall(r'<tr><th scope="row">.*?</tr>', html, re.S)
    # Stay, admitted, discharged, outcome, expected, diagnoses, department: by its name.
    depts = {re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[7] for r in rows}
    assert rows and depts == {"Cardiology"}
    assert client.get(base + "&level=department&unit_id=D-MED").status_code == 403


def test_drilldown_rejects_bad_filters(client_for: Any) -> None:
    client = client_for("cmo")
    base = "/quality/measure/mort_inpatient/patients/"
    assert client.get(base + "?level=galaxy").status_code == 400
    assert client.get(base + "?period_start=yesterday").status_code == 400
    assert AccessLog.objects.count() == 0


def test_access_log_page_shows_and_filters_visits(client_for: Any) -> None:
    client_for("quality_analyst").get(
        "/quality/measure/mort_inpatient/patients/?period_type=month&period_start=2026-10-01"
    )
    patient = AccessLog.objects.get().patient_ids[0]
    html = client_for("compliance").get("/access-log/").content.decode()
    assert "t_quality_analyst" in html and patient in html
    client = client_for("cmo")
    assert patient in client.get(f"/access-log/?patient={patient}").content.decode()
    assert "t_quality_analyst" not in client.get("/access-log/?patient=PT_NOBODY").content.decode()


def test_data_status_shows_runs_quarantine_and_build_steps(client_for: Any) -> None:
    html = client_for("quality_analyst").get("/status/").content.decode()
    for text in ("Ingest runs", "Build steps", "quality__measure_result", "Quarantined"):
        assert text in html, text


@pytest.mark.parametrize("url", ["/quality/", "/quality/measure/mort_inpatient/", "/status/"])
def test_missing_warehouse_says_what_to_run(client_for: Any, no_warehouse: Any, url: str) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No results yet" in html and "cmo demo" in html


def test_empty_warehouse_says_what_to_run(client_for: Any, settings: Any, tmp_path: Any) -> None:
    from cmo.warehouse import connect
    from cmo.web import results

    path = tmp_path / "empty.duckdb"
    connect(path).close()
    settings.WAREHOUSE = path
    results.clear_cache()
    html = client_for("cmo").get("/quality/").content.decode()
    assert "No results yet" in html and "cmo measures run" in html


def test_database_is_the_configured_one() -> None:
    """The PostgreSQL pass (test_postgres.py) really runs on PostgreSQL."""
    import os

    from django.db import connection

    expected = "postgresql" if os.environ.get("CMO_DATABASE_URL") else "sqlite"
    assert connection.vendor == expected


def test_warm_builds_every_page_variant_once(client_for: Any) -> None:
    from cmo.quality.views import warm
    from cmo.web import results

    results.clear_cache()
    assert warm() == 2 + 4 * 3  # dashboard × 2 role flags, 3 measures × 4 flag combinations
    cached = [k for k in results._cache if '"derived"' in k]
    assert len(cached) == 14
    # A request afterwards is served from the cache: no new page body is built.
    client_for("board_member").get("/quality/measure/los/")
    assert len([k for k in results._cache if '"derived"' in k]) == 14


def test_chair_sees_only_their_departments_practitioners_named(client_for: Any) -> None:
    import pandas as pd

    from cmo.warehouse import connect

    with connect(os.environ["CMO_WAREHOUSE"], read_only=True) as wh:
        long = wh.table("quality__measure_long").to_pandas()
    long = long[
        (long["measure_id"] == "mort_inpatient")
        & (pd.to_datetime(long["period_month"]).dt.year == 2026)
    ]
    mine = {f"Dr {p}" for p in long.loc[long["department_id"] == "D-CAR", "practitioner_id"]}
    everyone = {f"Dr {p}" for p in long["practitioner_id"]}
    assert mine and everyone - mine, "the sample has practitioners outside D-CAR"

    def named(role: str) -> set[str]:
        html = client_for(role).get("/quality/measure/mort_inpatient/").content.decode()
        spec = json.loads(
            re.search(r'id="funnel-spec" type="application/json">(.*?)</script>', html, re.S).group(
                1
            )
        )
        return {v["who"] for v in spec["data"]["values"]} - {"Practitioner of another department"}

    assert named("department_chair") == mine
    assert named("medical_staff_office") == everyone
    dash = client_for("department_chair").get("/quality/").content.decode()
    assert "Dr P007" not in dash


def test_pages_of_the_previous_build_while_a_rebuild_holds_the_lock(
    client_for: Any, settings: Any, tmp_path: Any
) -> None:
    """`cmo measures run` in another process holds DuckDB's write lock: the app keeps serving
    what it had and says so for what it had not."""
    import shutil
    import subprocess
    import sys
    import time

    from cmo.web import results

    path = tmp_path / "copy.duckdb"
    shutil.copy(os.environ["CMO_WAREHOUSE"], path)
    settings.WAREHOUSE = path
    results.clear_cache()
    client = client_for("cmo")
    before = client.get("/quality/").content
    assert b"Inpatient mortality" in before
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE quality__touch AS SELECT 1 AS x'); "
            "print('locked', flush=True); "
            "time.sleep(30)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        time.sleep(0.2)
        during = client.get("/quality/")
        assert during.status_code == 200 and b"Inpatient mortality" in during.content
        busy = client.get("/quality/measure/los/?site=S1")  # never built: no cached answer
        assert busy.status_code == 200 and b"being rebuilt" in busy.content
    finally:
        writer.kill()
        writer.wait()
