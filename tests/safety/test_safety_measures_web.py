"""The registry's safety measures on the quality pages, like every other measure: a dashboard
tile with the build's latest complete quarter, a measure page with the build's u-chart, no
practitioner section (the web tests' build has an ``app__safety_event``:
tests/demo_warehouse.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from demo_warehouse import read_table

pytestmark = pytest.mark.django_db
SAFETY = ["SAFETY_EVENTS", "SAFETY_HARM", "NEAR_MISS_RATIO", "SAFETY_CLOSE"]


def _latest(measure_id: str) -> dict[str, Any]:
    periods = read_table("quality__period")
    quarter = periods[(periods["period_type"] == "quarter") & periods["latest_complete"]]
    res = read_table("quality__measure_result")
    row = res[
        (res["measure_id"] == measure_id)
        & (res["period_type"] == "quarter")
        & (res["level"] == "system")
        & (res["period_start"] == quarter["period_start"].iloc[0])
    ]
    assert len(row) == 1, measure_id
    return dict(row.iloc[0])


def test_dashboard_tiles_show_the_safety_measures(client_for: Any) -> None:
    html = client_for("cmo").get("/quality/").content.decode()
    for mid in SAFETY:
        assert f'id="tile-{mid}"' in html, mid
    events = _latest("SAFETY_EVENTS")
    tile = html[html.index('id="tile-SAFETY_EVENTS"') :][:3000]
    days = f"{events['exposure']:,.0f} patient days"
    # The number in the headline font; the unit beside it, the patient days in the small line.
    unit = '<span class="unit">per 1,000 patient days<'
    assert f'class="big">{events["rate"]:.2f}</span> {unit}' in tile
    assert f">{days} · " in tile
    near = _latest("NEAR_MISS_RATIO")
    tile = html[html.index('id="tile-NEAR_MISS_RATIO"') :][:3000]
    assert f'class="big">{near["rate"] * 100:.1f}%<' in tile
    assert f"{near['denominator']} events" in tile
    close = _latest("SAFETY_CLOSE")
    tile = html[html.index('id="tile-SAFETY_CLOSE"') :][:3000]
    assert f'class="big">{close["median"]:.2f}</span> <span class="unit">days<' in tile  # median


def test_measure_page_shows_the_builds_u_chart(client_for: Any) -> None:
    html = client_for("quality_analyst").get("/quality/measure/SAFETY_EVENTS/").content.decode()
    assert "Hutchinson" in html  # the citation of the spec
    spec = json.loads(
        re.search(r'id="control-spec" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    points = read_table("quality__chart_point")
    mine = points[(points["measure_id"] == "SAFETY_EVENTS") & (points["level"] == "system")]
    assert set(mine["chart"]) == {"u"}
    shown = spec["data"]["values"]
    assert [round(v["y"], 9) for v in shown] == [round(y, 9) for y in mine["y"]]
    client = client_for("quality_analyst")
    for mid in ("SAFETY_HARM", "NEAR_MISS_RATIO", "SAFETY_CLOSE"):
        page = client.get(f"/quality/measure/{mid}/")
        assert page.status_code == 200 and 'id="control-spec"' in page.content.decode(), mid


def test_drill_down_of_event_rows_names_no_patient(client_for: Any) -> None:
    """The rows behind a safety ratio are events without a stay: listed, no patient named."""
    client = client_for("quality_analyst")
    page = client.get("/quality/measure/NEAR_MISS_RATIO/patients/?period_type=year")
    assert page.status_code == 200
