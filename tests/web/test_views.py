"""Pages on the real build of a small demo system: what each role sees, and the access log."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from cmo.web.models import AccessLog
from demo_warehouse import CHAIR_DEPARTMENTS, read_table

pytestmark = pytest.mark.django_db


def test_dashboard_has_a_tile_per_measure_with_people_formatted_numbers(client_for: Any) -> None:
    html = client_for("cmo").get("/quality/").content.decode()
    measures = read_table("quality__measure")
    for title in measures["title"]:
        assert title in html
    assert len(re.findall(r'<article class="tile', html)) == len(measures)
    assert re.search(r'class="big">\d+\.\d%<', html), "proportions shown as percentages"
    assert re.search(r"\d\.\d\d \(95% CI \d\.\d\d–\d\.\d\d\)", html), "O/E with its CI"
    assert re.search(r'class="big">\d+\.\d\d</span> <span class="unit">days<', html), (
        "means with their unit"
    )
    # Tiles show the latest complete quarter of the build (quality__period), the header its
    # latest complete month.
    assert "Q4 2024" in html and "data to Dec 2024" in html
    assert 'id="spark-IMORT" type="application/json"' in html


def test_tile_value_is_the_builds_latest_complete_quarter(client_for: Any) -> None:
    periods = read_table("quality__period")
    quarter = periods[(periods["period_type"] == "quarter") & periods["latest_complete"]]
    start = quarter["period_start"].iloc[0]
    res = read_table("quality__measure_result")
    row = res[
        (res["measure_id"] == "IMORT")
        & (res["period_type"] == "quarter")
        & (res["level"] == "system")
        & (res["period_start"] == start)
    ].iloc[0]
    html = client_for("cmo").get("/quality/").content.decode()
    tile = html[html.index('id="tile-IMORT"') :][:3000]
    assert f'class="big">{row["rate"] * 100:.1f}%<' in tile
    assert f"{int(row['denominator'])} stays" in tile


def test_dashboard_attention_list_names_practitioners_only_for_allowed_roles(
    client_for: Any,
) -> None:
    signals = read_table("quality__signal")
    current = signals[signals["current"]]
    units = set(current.loc[current["level"] == "unit", "unit_name"])
    people = set(current.loc[current["level"] == "practitioner", "unit_name"])
    assert units and people, "the demo build has current unit and practitioner signals"
    cmo_html = client_for("cmo").get("/quality/").content.decode()
    assert all(u in cmo_html for u in units) and all(p in cmo_html for p in people)
    board = client_for("board_member").get("/quality/").content.decode()
    assert all(u in board for u in units)
    # Board members see aggregates only: no practitioner-level signal at all (issue 14).
    assert not any(p in board for p in people) and "Practitioner:" not in board
    assert "practitioners ·" not in board and "name visible to authorised roles" not in board


def test_site_filter_changes_the_numbers(client_for: Any) -> None:
    client = client_for("cmo")
    system = client.get("/quality/").content.decode()
    site = client.get("/quality/?site=org-h2").content.decode()
    assert "Northgate Community Hospital" in site
    values = lambda h: re.findall(r'class="big">([^<]+)<', h)  # noqa: E731
    assert values(system) != values(site)
    assert client.get("/quality/?site=NOPE").status_code == 400


def test_measure_page_sections(client_for: Any) -> None:
    html = client_for("quality_analyst").get("/quality/measure/IMORT/").content.decode()
    assert "AHRQ IQI 91" in html  # the citation from the measure spec
    spec = json.loads(
        re.search(r'id="control-spec" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert spec["layer"] and len(spec["data"]["values"]) == 24
    assert len(re.findall(r"<tr><th scope=\"row\">[A-Z][a-z]{2} \d{4}</th>", html)) == 24
    assert "Northgate Community Hospital" in html and "Cardiology" in html
    assert "Riverside Intensive Care Unit" in html
    assert "C-STATISTIC" in html.upper()
    calib = json.loads(
        re.search(
            r'id="calibration-spec" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    points = calib["layer"][1]["data"]["values"]
    assert len(points) == 10
    assert all(0 < p["predicted"] < 100 and 0 <= p["observed"] <= 100 for p in points)
    assert "/patients/?" in html  # drill-down links for a role allowed patient data
    los = client_for("quality_analyst").get("/quality/measure/LOS/").content.decode()
    assert 'id="funnel-spec"' in los and "Outside the funnel limits" in los


def test_measure_page_hides_names_and_drilldown_from_the_board(client_for: Any) -> None:
    html = client_for("board_member").get("/quality/measure/LOS/").content.decode()
    # Aggregates only (issue 14): no practitioner funnel at all, not even unnamed.
    assert 'id="funnel-spec"' not in html
    funnel_rows = read_table("quality__funnel_point")
    names = funnel_rows.loc[funnel_rows["level"] == "practitioner", "unit_name"]
    assert len(names) and not any(n in html for n in names)
    assert "/patients/?" not in html


def test_control_chart_is_the_builds(client_for: Any) -> None:
    """The page shows the build's chart points (U chart of O/E for a risk-adjusted rate)."""
    points = read_table("quality__chart_point")
    mine = points[(points["measure_id"] == "IMORT") & (points["level"] == "system")]
    html = client_for("cmo").get("/quality/measure/IMORT/").content.decode()
    spec = json.loads(
        re.search(r'id="control-spec" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    shown = spec["data"]["values"]
    assert [round(v["ucl"], 9) for v in shown] == [round(u, 9) for u in mine["ucl"]]
    assert [v["sigma_signal"] for v in shown] == list(mine["sigma_signal"])
    assert set(mine["chart"]) == {"u"} and "Observed / expected (O/E)" in html


def test_unknown_measure_is_404(client_for: Any) -> None:
    assert client_for("cmo").get("/quality/measure/nope/").status_code == 404


def test_drilldown_lists_the_stays_and_logs_the_patients(client_for: Any) -> None:
    url = (
        "/quality/measure/IMORT/patients/"
        "?period_type=quarter&period_start=2024-10-01&level=unit&unit_id=loc-h1-icu"
    )
    html = client_for("safety_officer").get(url).content.decode()
    shown = set(re.findall(r'<th scope="row">([A-Za-z0-9\-.]+)</th>', html))
    assert shown, "the stays behind the number"
    assert "Unit Riverside Intensive Care Unit" in html  # the unit's name, not its id
    entry = AccessLog.objects.get()
    assert entry.username == "t_safety_officer"
    assert set(entry.patient_ids) == shown and entry.n_patients == len(shown)
    assert entry.filters["unit_id"] == "loc-h1-icu" and entry.filters["level"] == "unit"
    assert entry.page == url and entry.via == "web"


def test_chair_sees_only_their_departments(client_for: Any) -> None:
    client = client_for("department_chair")
    base = "/quality/measure/IMORT/patients/?period_type=year&period_start=2024-01-01"
    html = client.get(base).content.decode()
    rows = re.findall(r'<tr[^>]*><th scope="row">.*?</tr>', html, re.S)
    # MRN, stay, age, sex, admitted, discharged, outcome, expected, diagnoses, department.
    depts = {re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[10] for r in rows}
    assert rows and depts == {"Riverside University Hospital - Cardiology"}
    assert client.get(base + "&level=department&unit_id=org-h1-medicine").status_code == 403


def test_drilldown_rejects_bad_filters(client_for: Any) -> None:
    client = client_for("cmo")
    base = "/quality/measure/IMORT/patients/"
    assert client.get(base + "?level=galaxy").status_code == 400
    assert client.get(base + "?period_start=yesterday").status_code == 400
    assert AccessLog.objects.count() == 0


def test_access_log_page_shows_and_filters_visits(client_for: Any) -> None:
    client_for("quality_analyst").get(
        "/quality/measure/IMORT/patients/?period_type=month&period_start=2024-10-01"
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


@pytest.mark.parametrize("url", ["/quality/", "/quality/measure/IMORT/", "/status/"])
def test_missing_warehouse_says_what_to_run(client_for: Any, no_warehouse: Any, url: str) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No results yet" in html and "cmo demo" in html


def test_empty_warehouse_says_what_to_run(client_for: Any, settings: Any, tmp_path: Any) -> None:
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

    path = tmp_path / "empty.duckdb"
    with connect(path) as wh:
        publish(wh, "ingest")
    settings.WAREHOUSE = path
    warehouse.clear_cache()
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
    from cmo.web import warehouse

    warehouse.clear_cache()
    n = len(read_table("quality__measure"))
    assert warm() == 2 + 4 * n  # dashboard × 2 role flags, n measures × 4 flag combinations
    cached = [k for k in warehouse._cache if '"derived"' in k]
    assert len(cached) == 2 + 4 * n
    # A request afterwards is served from the cache: no new page body is built.
    client_for("board_member").get("/quality/measure/LOS/")
    assert len([k for k in warehouse._cache if '"derived"' in k]) == 2 + 4 * n


def test_chair_sees_only_their_departments_practitioners_named(client_for: Any) -> None:
    import pandas as pd

    from cmo.warehouse import connect

    with connect(os.environ["CMO_WAREHOUSE"], read_only=True) as wh:
        long = wh.table("quality__measure_long").to_pandas()
    funnel = read_table("quality__funnel_point")
    funnel = funnel[(funnel["measure_id"] == "LOS") & (funnel["level"] == "practitioner")]
    funnel = funnel[funnel["period_start"] == funnel["period_start"].max()]
    long = long[
        (long["measure_id"] == "LOS") & (pd.to_datetime(long["period_month"]).dt.year == 2024)
    ]
    theirs = set(long.loc[long["department_id"].isin(CHAIR_DEPARTMENTS), "practitioner_id"])
    mine = set(funnel.loc[funnel["unit_id"].isin(theirs), "unit_name"])
    everyone = set(funnel["unit_name"])
    assert mine and everyone - mine, "the demo has practitioners outside the chair's department"

    def named(role: str) -> set[str]:
        html = client_for(role).get("/quality/measure/LOS/").content.decode()
        spec = json.loads(
            re.search(r'id="funnel-spec" type="application/json">(.*?)</script>', html, re.S).group(
                1
            )
        )
        return {v["who"] for v in spec["data"]["values"]} - {"Practitioner of another department"}

    assert named("department_chair") == mine
    assert named("medical_staff_office") == everyone
    dash = client_for("department_chair").get("/quality/").content.decode()
    assert not any(n in dash for n in everyone - mine)
