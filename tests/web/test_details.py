"""Issue 6 gaps: the drill-down's dates and diagnoses, quarantined lines on the data status
page (line text only for roles allowed patient data), and a chair's named practitioners."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmo.web.models import AccessLog
from cmo.web.sample import DIAGNOSES

pytestmark = pytest.mark.django_db

DRILL = "period_type=quarter&period_start=2026-07-01&level=department&unit_id=D-CAR"


def _expected_stays() -> list[dict[str, Any]]:
    """The sample's rule for stay E{i} (cmo.web.sample._stay_tables), for the drilled number."""
    import pandas as pd

    from cmo.warehouse import connect

    with connect(os.environ["CMO_WAREHOUSE"], read_only=True) as wh:
        t = wh.table("quality__measure_long")
        t = t.filter(
            (t.measure_id == "mort_inpatient")
            & (t.department_id == "D-CAR")
            & (t.period_month >= date(2026, 7, 1))
            & (t.period_month < date(2026, 10, 1))
        )
        rows = t.select("stay_id", "patient_id", "discharge_date").to_pandas()
    codes = list(DIAGNOSES)
    out = []
    for sid, pid, discharge in rows.itertuples(index=False):
        i = int(sid[1:])
        discharge = pd.Timestamp(discharge).date()
        out.append(
            {
                "stay_id": sid,
                "patient_id": pid,
                "admit_date": discharge - timedelta(days=i % 9 + 1),
                "principal": codes[i % 4],
                "secondary": sorted(codes[4 + (i + k) % 4] for k in range(i % 3)),
            }
        )
    return out


def test_drill_down_shows_admission_date_and_diagnoses(client_for: Any) -> None:
    expected = _expected_stays()
    assert any(e["secondary"] for e in expected) and any(not e["secondary"] for e in expected)
    html = client_for("cmo").get(f"/quality/measure/mort_inpatient/patients/?{DRILL}")
    html = html.content.decode()
    rows = re.findall(r'<tr><th scope="row">(.*?)</tr>', html, re.S)
    assert len(rows) == len(expected)
    by_stay = {re.search(r"<td>(E\d+)</td>", r).group(1): r for r in rows}
    for e in expected:
        row = by_stay[e["stay_id"]]
        assert f">{e['admit_date'].isoformat()}</td>" in row
        principal = e["principal"]
        assert f"<code>{principal}</code> {DIAGNOSES[principal]}" in row
        for code in e["secondary"]:
            assert f"<code>{code}</code> {DIAGNOSES[code]}" in row
        if not e["secondary"]:
            assert row.count("<code>") == 1
    # The access log row is as before: the distinct patients shown, sorted.
    shown = {re.match(r"([^<]+)</th>", r).group(1) for r in rows}  # type: ignore[union-attr]
    assert AccessLog.objects.get().patient_ids == sorted(shown)


def test_long_rows_api_has_dates_and_coded_diagnoses(client_for: Any) -> None:
    expected = {e["stay_id"]: e for e in _expected_stays()}
    rows = client_for("quality_analyst").get(f"/api/quality/measures/mort_inpatient/long?{DRILL}")
    rows = rows.json()
    assert {r["stay_id"] for r in rows} == set(expected)
    for r in rows:
        e = expected[r["stay_id"]]
        assert r["admit_date"] == e["admit_date"].isoformat()
        assert r["principal_dx"] == e["principal"].replace(".", "")  # undotted, as in core
        assert r["principal_dx_display"] == DIAGNOSES[e["principal"]]
        assert [d["code"] for d in r["secondary_dx"]] == [
            c.replace(".", "") for c in e["secondary"]
        ]
        assert all(d["display"] == DIAGNOSES[_dotted(d["code"])] for d in r["secondary_dx"])
        assert all(d["poa"] in ("y", "n") for d in r["secondary_dx"])
    assert AccessLog.objects.get().patient_ids == sorted({r["patient_id"] for r in rows})


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def test_data_status_lists_quarantined_lines_with_text_for_patient_roles(
    client_for: Any,
) -> None:
    html = client_for("quality_analyst").get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert "2 lines not loaded" in section
    for text in ("Observation.ndjson", ">1041<", ">2210<", "invalid JSON", "missing id"):
        assert text in section, text
    assert "{&quot;resourceType&quot;: &quot;Obs" in section  # the line's text, escaped


def test_data_status_hides_line_text_without_patient_rights(role_users: Any, client: Any) -> None:
    from django.contrib.auth.models import Group, Permission, User

    group = Group.objects.create(name="status_only")
    group.permissions.set([Permission.objects.get(codename="view_data_status")])
    user = User.objects.create(username="t_status_only", password="!")
    user.groups.set([group])
    client.force_login(user)
    html = client.get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert "invalid JSON" in section and ">1041<" in section
    assert "resourceType" not in section and "Text (start)" not in section
    assert "shown only to roles allowed patient data" in section


def test_quarantine_after_a_real_ingest_newest_run_first(
    client_for: Any, settings: Any, tmp_path: Path
) -> None:
    from cmo.fhir.ingest import ingest
    from cmo.measures.api import quarantine
    from cmo.warehouse import connect
    from cmo.web import results

    good = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    first = tmp_path / "first" / "Patient.ndjson"
    first.parent.mkdir()
    first.write_text(json.dumps(good) + "\n{not json\n")
    second = tmp_path / "second" / "Patient.ndjson"
    second.parent.mkdir()
    second.write_text('{"resourceType": "Patient"}\n' + json.dumps({**good, "id": "p2"}) + "\n")
    path = tmp_path / "wh.duckdb"
    with connect(path) as wh:
        ingest([first], wh, progress=False)
        ingest([second], wh, progress=False)
        with_text = quarantine(wh, with_text=True)
        without = quarantine(wh)
        assert quarantine(wh, limit=1, offset=1)["rows"] == without["rows"][1:]
    assert with_text["total"] == 2
    newest, oldest = with_text["rows"]
    assert (Path(newest["file"]).parent.name, newest["line"]) == ("second", 1)
    assert (Path(oldest["file"]).parent.name, oldest["line"]) == ("first", 2)
    assert newest["started"] > oldest["started"]
    assert oldest["text"].startswith("{not json") and oldest["reason"]
    assert all("text" not in r for r in without["rows"])

    # The page reads it before any measure build.
    settings.WAREHOUSE = path
    results.clear_cache()
    html = client_for("cmo").get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert section.index(">1<") < section.index(">2<")  # newest run first
    assert "{not json" in section and oldest["reason"] in section.replace("&#x27;", "'")


def test_yearly_funnel_signals_are_current_while_their_year_is() -> None:
    from cmo.quality.analysis import current_signals

    def sig(kind: str, start: date) -> dict[str, Any]:
        return {"kind": kind, "period_start": start, "level": "unit", "direction": "worse"}

    signals = [
        sig("funnel_99_8", date(2024, 1, 1)),  # the year of the last month: current
        sig("funnel_95", date(2023, 1, 1)),  # last year: not
        sig("sigma", date(2024, 1, 1)),  # a monthly signal eleven months back: not
        sig("sigma", date(2024, 10, 1)),  # within the last three months: current
    ]
    current = current_signals(signals, date(2024, 12, 1))
    assert [(s["kind"], s["period_start"]) for s in current] == [
        ("funnel_99_8", date(2024, 1, 1)),
        ("sigma", date(2024, 10, 1)),
    ]


def test_many_funnel_outliers_of_one_kind_fold_into_one_line() -> None:
    from cmo.quality.analysis import describe_signal, group_funnel_signals

    def item(i: int, named: bool) -> dict[str, Any]:
        s = {
            "measure_id": "LOS",
            "level": "practitioner",
            "unit_id": f"P{i}",
            "unit_name": f"Dr {i}",
            "kind": "funnel_99_8",
            "direction": "worse",
            "period_start": date(2024, 1, 1),
        }
        return {**describe_signal(s, show_practitioner=named), "measure_title": "LOS"}

    site = {**item(0, True), "level": "site", "kind": "sigma", "who": "Riverside"}
    items = [site] + [item(i, i <= 8) for i in range(1, 11)] + [item(99, True) | {"kind": "x"}]
    out = group_funnel_signals(items)
    assert len(out) == 3 and out[0] is site and out[2]["kind"] == "x"
    line = out[1]
    assert line["grouped"] == 10 and line["who"] == "10 practitioners"
    assert line["period_label"] == "2024"
    assert line["detail"] == (
        "Dr 1; Dr 2; Dr 3; Dr 4; Dr 5; Dr 6; and 2 more; "
        "2 not named here (names visible to authorised roles)"
    )
    assert group_funnel_signals(items[:4]) == items[:4]  # three are listed one by one


def test_tile_badge_counts_local_signals_when_the_system_has_none(client_for: Any) -> None:
    html = client_for("cmo").get("/quality/").content.decode()
    tile = html[html.index('id="tile-mort_inpatient"') :]
    tile = tile[: tile.index("</header>")]
    # The sample's current worse signals of mortality: unit Coronary care and Dr P007.
    assert 'class="badge local"' in tile and "2 local signals" in tile
    los = html[html.index('id="tile-los"') :]
    assert "No signal" in los[: los.index("</header>")]


def test_openapi_documents_the_long_row_fields(client_for: Any) -> None:
    schema = client_for("clinician").get("/api/openapi.json").json()
    row = schema["components"]["schemas"]["LongRow"]["properties"]
    assert {"admit_date", "principal_dx", "principal_dx_display", "secondary_dx"} <= set(row)
    dx = schema["components"]["schemas"]["Diagnosis"]["properties"]
    assert set(dx) == {"code", "display", "poa"}
