"""Issue 6 gaps: the drill-down's dates and diagnoses, quarantined lines on the data status
page (line text only for roles allowed patient data), and a chair's named practitioners."""

from __future__ import annotations

import json
import re
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

import pytest

from cmo.web.models import AccessLog
from demo_warehouse import read_table

pytestmark = pytest.mark.django_db

DRILL = "period_type=quarter&period_start=2024-07-01&level=department&unit_id=org-h1-cardiology"


def _expected_stays() -> list[dict[str, Any]]:
    """The drilled number's stays read straight from the build's tables: admission date and
    diagnoses from core__inpatient_stay and core__stay_diagnosis."""
    import pandas as pd

    long = read_table("quality__measure_long")
    long["period_month"] = pd.to_datetime(long["period_month"]).dt.date
    long = long[
        (long["measure_id"] == "IMORT")
        & long["in_population"]
        & (long["department_id"] == "org-h1-cardiology")
        & (long["period_month"] >= date(2024, 7, 1))
        & (long["period_month"] < date(2024, 10, 1))
    ]
    stays = read_table("core__inpatient_stay").set_index("stay_id")
    dx = read_table("core__stay_diagnosis")
    dx = dx[~dx["is_principal"].fillna(False).astype(bool)]
    out = []
    for sid, pid in zip(long["stay_id"], long["patient_id"], strict=True):
        out.append(
            {
                "stay_id": sid,
                "patient_id": pid,
                "admit_date": pd.Timestamp(stays.loc[sid, "admit_date"]).date(),
                "principal": stays.loc[sid, "principal_dx"],
                "secondary": sorted(dx.loc[dx["stay_id"] == sid, "code"]),
            }
        )
    return out


def _displays() -> dict[str, str]:
    """ICD-10-CM display text as the source gives it (Condition.code.coding[0].display)."""
    cond = read_table("fhir__condition")
    cond = cond[cond["code_display"].notna()]
    return {
        str(c).replace(".", ""): str(d)
        for c, d in zip(cond["code"], cond["code_display"], strict=True)
    }


def test_drill_down_shows_admission_date_and_diagnoses(client_for: Any) -> None:
    expected = _expected_stays()
    names = _displays()
    assert any(e["secondary"] for e in expected)
    html = client_for("cmo").get(f"/quality/measure/IMORT/patients/?{DRILL}")
    html = html.content.decode()
    # Counted and excluded stays (two tables, the same columns; issue 14).
    rows = re.findall(r'<tr[^>]*><th scope="row">(.*?)</tr>', html, re.S)
    assert len(rows) == len(expected)
    by_stay = {e["stay_id"]: r for e in expected for r in rows if f">{e['stay_id']}<" in r}
    assert len(by_stay) == len(expected)
    for e in expected:
        row = by_stay[e["stay_id"]]
        assert f">{e['admit_date'].isoformat()}</td>" in row
        principal = e["principal"]
        assert f"<code>{_dotted(principal)}</code>" in row
        if principal in names:
            assert f"<code>{_dotted(principal)}</code> {escape(names[principal])}" in row
        for code in e["secondary"]:
            assert f"<code>{_dotted(code)}</code>" in row
        assert row.count("<code>") == 1 + 2 * len(e["secondary"])  # summary and list
    # The access log row is as before: the distinct patients shown, sorted.
    shown = {re.match(r"([^<]+)</th>", r).group(1) for r in rows}  # type: ignore[union-attr]
    assert AccessLog.objects.get().patient_ids == sorted(shown)


def test_long_rows_api_has_dates_and_coded_diagnoses(client_for: Any) -> None:
    expected = {e["stay_id"]: e for e in _expected_stays()}
    names = _displays()
    rows = client_for("quality_analyst").get(f"/api/quality/measures/IMORT/long?{DRILL}")
    rows = rows.json()
    assert {r["stay_id"] for r in rows} == set(expected)
    for r in rows:
        e = expected[r["stay_id"]]
        assert r["admit_date"] == e["admit_date"].isoformat()
        assert r["principal_dx"] == e["principal"]  # undotted, as in core
        assert r["principal_dx_display"] == names.get(e["principal"])
        assert [d["code"] for d in r["secondary_dx"]] == e["secondary"]
        assert all(d["display"] == names.get(d["code"]) for d in r["secondary_dx"])
        assert all(d["poa"] in ("y", "n", "u", "w", None) for d in r["secondary_dx"])
    assert AccessLog.objects.get().patient_ids == sorted({r["patient_id"] for r in rows})


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


@pytest.fixture
def quarantined(settings: Any, tmp_path: Path) -> Path:
    """A warehouse whose real ingest quarantined two lines (line 2: not JSON; line 4: no id),
    published as the app's snapshot."""
    from cmo.fhir.ingest import ingest
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

    good = {"resourceType": "Observation", "id": "o1", "status": "final"}
    export = tmp_path / "export" / "Observation.ndjson"
    export.parent.mkdir()
    lines = [good, '{"resourceType": "Obs', {**good, "id": "o2"}, {"resourceType": "Observation"}]
    export.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    path = tmp_path / "wh.duckdb"
    with connect(path) as wh:
        ingest([export], wh, progress=False)
        publish(wh, "ingest")
    settings.WAREHOUSE = path
    warehouse.clear_cache()
    return path


def test_data_status_lists_quarantined_lines_with_text_for_patient_roles(
    client_for: Any, quarantined: Path
) -> None:
    html = client_for("quality_analyst").get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert "2 lines not loaded" in section
    for text in ("Observation.ndjson", ">2<", ">4<"):
        assert text in section, text
    assert "{&quot;resourceType&quot;: &quot;Obs" in section  # the line's text, escaped


def test_data_status_hides_line_text_without_patient_rights(
    role_users: Any, client: Any, quarantined: Path
) -> None:
    from django.contrib.auth.models import Group, Permission, User

    group = Group.objects.create(name="status_only")
    group.permissions.set([Permission.objects.get(codename="view_data_status")])
    user = User.objects.create(username="t_status_only", password="!")
    user.groups.set([group])
    client.force_login(user)
    html = client.get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert "Observation.ndjson" in section and ">2<" in section
    assert "resourceType" not in section and "Text (start)" not in section
    assert "shown only to roles allowed patient data" in section


def test_quarantine_after_a_real_ingest_newest_run_first(
    client_for: Any, settings: Any, tmp_path: Path
) -> None:
    from cmo.fhir.ingest import ingest
    from cmo.measures.api import quarantine
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

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
        publish(wh, "ingest")
    assert with_text["total"] == 2
    newest, oldest = with_text["rows"]
    assert (Path(newest["file"]).parent.name, newest["line"]) == ("second", 1)
    assert (Path(oldest["file"]).parent.name, oldest["line"]) == ("first", 2)
    assert newest["started"] > oldest["started"]
    assert oldest["text"].startswith("{not json") and oldest["reason"]
    assert all("text" not in r for r in without["rows"])

    # The page reads it before any measure build.
    settings.WAREHOUSE = path
    warehouse.clear_cache()
    html = client_for("cmo").get("/status/").content.decode()
    section = html[html.index('id="quarantine"') :]
    assert section.index(">1<") < section.index(">2<")  # newest run first
    assert "{not json" in section and oldest["reason"] in section.replace("&#x27;", "'")


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
    signals = read_table("quality__signal")
    current = signals[signals["current"] & (signals["direction"] == "worse")]
    # A measure of the demo whose current "worse" signals are all below the system level.
    system = set(current.loc[current["level"] == "system", "measure_id"])
    local = current[~current["measure_id"].isin(system)]
    assert not local.empty, "some measure of the demo has local signals only"
    mid = sorted(local["measure_id"])[0]
    html = client_for("cmo").get("/quality/").content.decode()
    tile = html[html.index(f'id="tile-{mid}"') :]
    tile = tile[: tile.index("</header>")]
    n = int((local["measure_id"] == mid).sum())
    assert 'class="badge local"' in tile and f"{n} local signal{'s' if n > 1 else ''}<" in tile
    # "No signal" only when the measure has no current signal in either direction (a measure
    # with only a "better" one, such as a PSI of the demo, shows "Signal: better").
    any_current = signals[signals["current"]]
    quiet = set(read_table("quality__measure")["measure_id"]) - set(any_current["measure_id"])
    assert quiet, "some measure has no current signal at all"
    for mid in quiet:
        other = html[html.index(f'id="tile-{mid}"') :]
        assert "No signal" in other[: other.index("</header>")]


def test_openapi_documents_the_long_row_fields(client_for: Any) -> None:
    schema = client_for("clinician").get("/api/openapi.json").json()
    row = schema["components"]["schemas"]["LongRow"]["properties"]
    assert {"admit_date", "principal_dx", "principal_dx_display", "secondary_dx"} <= set(row)
    dx = schema["components"]["schemas"]["Diagnosis"]["properties"]
    assert set(dx) == {"code", "display", "poa"}
