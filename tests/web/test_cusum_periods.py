"""Issue 14's last deliverables against the real demo build (tests/demo_warehouse.py): the CUSUM
chart wherever a CUSUM alarm is reported (quality__cusum, drawn not recomputed), the rolling
12- and 24-month periods of the pages, and the drill-down's MRN, age and sex."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from demo_warehouse import alarm_warehouse, read_table

pytestmark = pytest.mark.django_db

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _spec(html: str, spec_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script id="{re.escape(spec_id)}" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, spec_id
    return dict(json.loads(found.group(1)))


# --- CUSUM ----------------------------------------------------------------------------------


def test_every_cusum_alarm_is_in_the_stored_series() -> None:
    """The build's CUSUM signals are read off the stored series: each alarmed measure x site x
    side has alarm days there, its latest alarm in the signal's month, and the series restarts
    at 0 after an alarm (the day after an alarm day starts below h)."""
    series = read_table("quality__cusum")
    signals = read_table("quality__signal")
    assert not series.empty and set(series["side"]) == {"upper", "lower"}
    cusum = signals[signals["kind"] == "cusum"]
    for _, s in cusum.iterrows():
        side = "upper" if s["direction"] == "worse" else "lower"
        chart = series[
            (series["measure_id"] == s["measure_id"])
            & (series["unit_id"] == s["unit_id"])
            & (series["side"] == side)
        ]
        alarms = chart[chart["alarm"]]
        assert not alarms.empty
        assert str(alarms["period_start"].max())[:7] == str(s["period_start"])[:7]
        assert (alarms["s_max"] > alarms["h"]).all()
    # Below the limit except on alarm days; h and ARL0 constant per chart.
    quiet = series[~series["alarm"]]
    assert (quiet["s_max"] <= quiet["h"]).all()
    per_chart = series.groupby(["measure_id", "unit_id", "side"])
    assert (per_chart["h"].nunique() == 1).all() and (per_chart["arl0"].nunique() == 1).all()
    assert (series["s"] >= 0).all()


def test_measure_page_draws_the_site_cusum_with_limit_alarms_and_arl(client_for: Any) -> None:
    series = read_table("quality__cusum")
    alarmed = series[series["alarm"]]
    row = (alarmed if not alarmed.empty else series).iloc[0]
    mid, site = str(row["measure_id"]), str(row["unit_id"])
    chart = series[(series["measure_id"] == mid) & (series["unit_id"] == site)]
    html = client_for("cmo").get(f"/quality/measure/{mid}/", {"site": site}).content.decode()
    assert f'id="cusum-chart-{site}"' in html
    spec = _spec(html, f"cusum-spec-{site}")
    rules = next(layer for layer in spec["layer"] if layer["mark"].get("strokeDash"))
    drawn = sorted(round(abs(v["h"]), 6) for v in rules["data"]["values"])
    assert drawn == sorted(round(float(h), 6) for h in chart.groupby("side")["h"].first())
    points = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "point")
    assert len(points["data"]["values"]) == int(chart["alarm"].sum())
    arl0 = float(chart["arl0"].iloc[0])
    assert f"set for one false alarm in {arl0:,.0f} in-control stays" in html
    assert "a 4.9% chance of one within a year" in html
    # System view: only the sites whose CUSUM alarmed are drawn.
    system = client_for("cmo").get(f"/quality/measure/{mid}/").content.decode()
    for s in set(series[series["measure_id"] == mid]["unit_id"]):
        has_alarm = bool(
            series[(series["measure_id"] == mid) & (series["unit_id"] == s)]["alarm"].any()
        )
        assert (f'id="cusum-chart-{s}"' in system) == has_alarm


def test_a_cusum_signal_links_to_its_chart(client_for: Any, settings: Any) -> None:
    """On the build of ALARM_SEED (the session's seed has no current CUSUM alarm), every current
    CUSUM signal on the dashboard links to its site's chart."""
    from cmo.web import warehouse

    path = alarm_warehouse()
    signals = read_table("quality__signal", path)
    current = signals[(signals["kind"] == "cusum") & signals["current"]]
    assert not current.empty, "the alarm seed's build has a current CUSUM alarm"
    settings.WAREHOUSE = path
    warehouse.clear_cache()
    try:
        html = client_for("cmo").get("/quality/").content.decode().replace("&amp;", "&")
    finally:
        warehouse.clear_cache()  # the next test reads the session's build (settings restored)
    for _, s in current.iterrows():
        assert f"/quality/measure/{s['measure_id']}/?site={s['unit_id']}#cusum" in html


# --- rolling periods --------------------------------------------------------------------------


def test_rolling_periods_are_stored_and_chosen_on_the_measure_page(client_for: Any) -> None:
    results = read_table("quality__measure_result")
    periods = read_table("quality__period")
    latest = periods[periods["latest_complete"]].set_index("period_type")["period_start"]
    assert {"rolling12", "rolling24"} <= set(latest.index)
    client = client_for("cmo")
    html = client.get("/quality/measure/IMORT/").content.decode()
    assert '<option value="rolling24">Rolling 24 months</option>' in html
    page = client.get("/quality/measure/IMORT/", {"period": "rolling24"}).content.decode()
    assert "(rolling 24 months)" in page
    r24 = results[
        (results["measure_id"] == "IMORT")
        & (results["period_type"] == "rolling24")
        & (results["period_start"] == latest["rolling24"])
        & results["level"].isin(["site", "department", "unit"])
    ]
    # The stored window: 24 months of monthly rows summed (denominator) at the system level.
    months = results[
        (results["measure_id"] == "IMORT")
        & (results["period_type"] == "month")
        & (results["level"] == "system")
        & (results["period_start"] >= latest["rolling24"])
        & (results["period_start"] <= latest["month"])
    ]
    system = results[
        (results["measure_id"] == "IMORT")
        & (results["period_type"] == "rolling24")
        & (results["level"] == "system")
    ]
    assert len(months) == 24 and int(system["denominator"].iloc[0]) == int(
        months["denominator"].sum()
    )
    csv = client.get("/quality/measure/IMORT/", {"period": "rolling24", "format": "csv"})
    lines = csv.content.decode().strip().splitlines()
    assert len(lines) == len(r24) + 1 and "rolling" in csv["Content-Disposition"]
    # Its drill-down counts the same stays as the row.
    row = re.search(r'href="(/quality/measure/IMORT/patients/\?period_type=rolling24[^"]+)"', page)
    assert row
    drill = client.get(row.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200 and "rolling 24 months" in drill.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/quality/measure/IMORT/?period=rolling36",
        "/quality/measure/IMORT/patients/?period_type=rolling6&period_start=2024-01-01",
        "/quality/practitioners/pr00008/?year=rolling36",
        "/quality/departments/org-h1-cardiology/?year=<b>",
    ],
)
def test_a_bad_period_is_400_plain_text(client_for: Any, url: str) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.startswith(b"bad parameter")


def test_unit_page_rolling_window_is_the_builds(client_for: Any) -> None:
    results = read_table("quality__measure_result")
    dept = "org-h1-cardiology"
    page = client_for("cmo").get(f"/quality/departments/{dept}/", {"year": "rolling12"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "(rolling 12 months)" in html and '<option value="rolling12" selected>' in html
    r12 = results[
        (results["period_type"] == "rolling12")
        & (results["level"] == "department")
        & (results["unit_id"] == dept)
        & (results["measure_id"] == "IMORT")
    ]
    row = re.search(r'data-measure="IMORT">.*?<td class="num">([\d,]+)</td>', html, re.S)
    assert row and int(row.group(1).replace(",", "")) == int(r12["denominator"].iloc[0])
    assert "period_type=rolling12" in html


# --- the drill-down's patient ------------------------------------------------------------------


def _mrns() -> dict[str, str]:
    ids = read_table("fhir__patient_identifier")
    mr = ids[(ids["type_system"] == V2_0203) & (ids["type_code"] == "MR")]
    return dict(zip(mr["patient_id"], mr["value"], strict=True))


def test_drill_down_shows_mrn_age_and_sex_in_page_csv_and_api(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    mrns = _mrns()
    assert mrns, "the demo's patients carry an MR-typed identifier"
    client = client_for("cmo")
    url = (
        "/quality/measure/IMORT/patients/?period_type=year&period_start=2024-01-01"
        "&level=site&unit_id=org-h1"
    )
    html = client.get(url).content.decode()
    rows = re.findall(r'<th scope="row">([^<]+)</th><td class="mrn">([^<]+)</td>', html)
    assert rows and all(mrns.get(pid) == mrn for pid, mrn in rows)
    csv = client.get(url + "&format=csv").content.decode().splitlines()
    assert csv[0].startswith("patient_id,mrn,stay_id,age,sex")
    pid, mrn = csv[1].split(",")[:2]
    assert mrns[pid] == mrn
    api = client.get(
        "/api/quality/measures/IMORT/long",
        {
            "period_type": "year",
            "period_start": "2024-01-01",
            "level": "site",
            "unit_id": "org-h1",
            "limit": 5,
        },
    )
    body = api.json()
    assert api.status_code == 200 and body
    assert all(r["mrn"] == mrns[r["patient_id"]] and r["sex"] in ("male", "female") for r in body)
    assert all(isinstance(r["age"], int) for r in body)
    assert AccessLog.objects.filter(event="view").count() == 3  # page, CSV, API


def test_a_rolling_funnel_signal_opens_its_unit_on_that_window(client_for: Any) -> None:
    """A signal of the rolling 24-month funnel links to the unit's page on the rolling 24
    months, where the measure's row is flagged from that window's funnel."""
    signals = read_table("quality__signal")
    rolling = signals[
        signals["current"]
        & (signals["window"] == "rolling24")
        & signals["level"].isin(["department", "unit"])
    ]
    if rolling.empty:
        pytest.skip("the demo build has no current rolling 24-month funnel signal")
    s = rolling.iloc[0]
    plural = {"department": "departments", "unit": "units"}[str(s["level"])]
    link = f"/quality/{plural}/{s['unit_id']}/?year=rolling24"
    client = client_for("cmo")
    assert link in client.get("/quality/").content.decode()
    html = client.get(link).content.decode()
    assert "(rolling 24 months)" in html
    row = re.search(rf'<tr class="flag-({s["direction"]})" data-measure="{s["measure_id"]}">', html)
    assert row, (s["measure_id"], s["direction"])
    # The funnel's own months when its lookback starts after the results' window.
    start = str(s["period_start"])[:10]
    periods = read_table("quality__period")
    window_start = str(periods[periods["period_type"] == "rolling24"]["period_start"].iloc[0])[:10]
    assert (start != window_start) == ("the measure's lookback starts later" in html)
