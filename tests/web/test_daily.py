"""Issue 14: the CMO's daily path (signal -> unit page -> stays) and the web's security fixes,
against the real demo warehouse (tests/demo_warehouse.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from demo_warehouse import CHAIR_DEPARTMENTS, read_table

pytestmark = pytest.mark.django_db

IN_SCOPE = "pr00008"  # attends in the chair's department (org-h1-cardiology)
OUT_OF_SCOPE = "pr00064"  # attends only in Lakeview's medicine


def _attending(practitioner: str) -> set[str]:
    long = read_table("quality__measure_long")
    return set(long.loc[long["practitioner_id"] == practitioner, "department_id"].dropna())


def test_the_demo_practitioners_are_where_the_tests_expect() -> None:
    assert set(CHAIR_DEPARTMENTS) & _attending(IN_SCOPE)
    assert not set(CHAIR_DEPARTMENTS) & _attending(OUT_OF_SCOPE)


# --- security -------------------------------------------------------------------------------


def test_pages_and_api_answers_are_not_stored(client_for: Any) -> None:
    client = client_for("cmo")
    for url in (
        "/quality/",
        f"/quality/practitioners/{IN_SCOPE}/",
        "/api/quality/signals",
        "/access-log/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_bad_parameter_is_plain_text_never_html(client_for: Any) -> None:
    client = client_for("cmo")
    attack = '<meta http-equiv="refresh" content="2;url=https://evil.example/">'
    for url in (
        "/quality/",
        "/quality/measure/IMORT/",
        "/quality/measure/IMORT/patients/",
        f"/quality/practitioners/{IN_SCOPE}/",
    ):
        param = "year" if "practitioners" in url else "site"
        if "patients" in url:
            param = "unit_id"
        response = client.get(url, {param: attack})
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/plain"), url
        assert b"evil.example" not in response.content or response["Content-Type"].startswith(
            "text/plain"
        )


@pytest.mark.parametrize(
    "url",
    [
        "/quality/measure/IMORT/patients/?period_type=month&period_start=9999-12-01",
        "/quality/measure/IMORT/patients/?period_start=2024-13-01",
        "/status/?qpage=99999999999999999999",
        f"/quality/practitioners/{IN_SCOPE}/?year=2024-05-01",
        "/access-log/?start=2025-02-01&end=2025-01-01",
        "/access-log/?ip=not-an-ip",
    ],
)
def test_out_of_range_parameters_are_400_with_a_message(client_for: Any, url: str) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 400
    assert response.content.startswith(b"bad parameter")


def test_unknown_ids_are_404(client_for: Any) -> None:
    client = client_for("cmo")
    assert client.get("/api/quality/measures/NOPE/results").status_code == 404
    assert client.get("/api/quality/measures/NOPE/long").status_code == 404
    unknown_unit = "/api/quality/measures/IMORT/results?level=practitioner&unit_id=pr99999"
    assert client.get(unknown_unit).status_code == 404
    assert client.get("/api/quality/signals?site_id=org-nowhere").status_code == 404
    assert client.get("/api/quality/measures/IMORT/long?level=unit&unit_id=x1").status_code == 404
    assert client.get("/quality/practitioners/pr99999/").status_code == 404
    assert client.get("/quality/departments/org-nowhere/").status_code == 404
    assert client.get("/quality/units/bad<id>/").status_code == 404


def test_a_refused_page_is_logged_as_denied(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    response = client_for("board_member").get(f"/quality/practitioners/{IN_SCOPE}/")
    assert response.status_code == 403
    row = AccessLog.objects.get(event="denied")
    assert row.username == "t_board_member" and IN_SCOPE in row.page


def test_access_log_filters_by_date_exports_csv_and_logs_its_viewer(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    client = client_for("cmo")
    client.get(
        "/quality/measure/IMORT/patients/?period_type=year&period_start=2024-01-01"
        "&level=department&unit_id=org-h1-cardiology"
    )
    view = AccessLog.objects.get(event="view")
    day = view.time.date().isoformat()
    page = client.get(f"/access-log/?start={day}&end={day}&event=view").content.decode()
    assert "127.0.0.1" in page and "Viewed patient data" in page
    assert (
        "No entries." in client.get("/access-log/?start=2000-01-01&end=2000-01-02").content.decode()
    )
    csv = client.get("/access-log/?format=csv&event=view")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("time_utc,user,event,via,ip") and len(lines) == 2
    assert "t_cmo,view,web,127.0.0.1" in lines[1]
    audits = AccessLog.objects.filter(event="audit", username="t_cmo")
    assert audits.count() == 3 and audits.filter(filters__format="csv").exists()


@pytest.fixture
def alice(db: Any) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("alice", password="correct horse battery")
    user.groups.set([Group.objects.get(name="cmo")])
    return user


def _login(ip: str, username: str, password: str) -> Any:
    return Client(REMOTE_ADDR=ip).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def test_lockout_is_by_name_and_address_and_the_cmo_unlocks(alice: Any, client_for: Any) -> None:
    from cmo.web.models import AccessLog

    for _ in range(5):
        _login("10.0.0.66", "alice", "wrong")
    assert _login("10.0.0.66", "alice", "correct horse battery").status_code == 429
    # An attacker elsewhere does not lock the CMO out of her own desk.
    assert _login("10.0.0.7", "alice", "correct horse battery").status_code == 302
    assert AccessLog.objects.filter(event="lockout", username="alice").exists()
    cmo = client_for("cmo")
    page = cmo.get("/access-log/lockouts/").content.decode()
    assert "alice" in page and "10.0.0.66" in page
    assert cmo.post("/access-log/lockouts/", {"username": "alice"}).status_code == 302
    assert _login("10.0.0.66", "alice", "correct horse battery").status_code == 302
    assert AccessLog.objects.filter(event="unlock", filters__unlocked="alice").exists()


def test_one_address_trying_many_user_names_is_throttled(alice: Any, client_for: Any) -> None:
    from cmo.web.views import IP_FAILURE_LIMIT

    for i in range(IP_FAILURE_LIMIT):
        assert _login("10.0.0.99", f"user{i}", "guess").status_code == 200
    blocked = _login("10.0.0.99", "alice", "correct horse battery")
    assert blocked.status_code == 429 and b"from this address" in blocked.content
    assert _login("10.0.0.5", "alice", "correct horse battery").status_code == 302
    cmo = client_for("cmo")
    assert "10.0.0.99" in cmo.get("/access-log/lockouts/").content.decode()
    cmo.post("/access-log/lockouts/", {"ip": "10.0.0.99"})
    assert _login("10.0.0.99", "alice", "correct horse battery").status_code == 302


def test_only_the_cmo_unlocks(client_for: Any) -> None:
    for role in ("compliance", "quality_analyst", "department_chair"):
        assert client_for(role).get("/access-log/lockouts/").status_code == 403
        assert client_for(role).post("/access-log/lockouts/", {"username": "x"}).status_code == 403


def test_data_status_is_for_people(client_for: Any, settings: Any) -> None:
    html = client_for("cmo").get("/status/").content.decode()
    assert str(settings.WAREHOUSE) not in html and "/tmp/" not in html
    for site in ("Riverside", "Northgate", "Lakeview"):
        assert site in html
    assert "How current the data is" in html and "Completeness" in html
    assert 'id="table-detail"' in html and "<details" in html
    issues = read_table("quality__data_issue")
    if len(issues):
        assert "Data problems" in html and "No data problems" not in html


# --- the daily path -------------------------------------------------------------------------


def _signal_links(html: str) -> list[str]:
    return re.findall(r'class="unit-link" href="([^"]+)"', html)


def test_every_signal_links_to_its_unit_with_the_year(client_for: Any) -> None:
    signals = read_table("quality__signal")
    current = signals[signals["current"] & signals["level"].isin(["practitioner", "department"])]
    html = client_for("cmo").get("/quality/").content.decode()
    links = _signal_links(html)
    assert links, "the attention list links units"
    for level, uid in zip(current["level"], current["unit_id"], strict=True):
        plural = {"practitioner": "practitioners", "department": "departments"}[level]
        assert any(link.startswith(f"/quality/{plural}/{uid}/") for link in links), uid
    assert any("?year=" in link for link in links)


def test_cmo_path_signal_to_practitioner_to_stays(client_for: Any) -> None:
    """From a current practitioner signal of the dashboard (the build's: the planted long-stay
    hospitalist in the demo) to that practitioner's page, then to the stays behind a number."""
    from cmo.web.models import AccessLog

    signals = read_table("quality__signal")
    worse = signals[
        signals["current"]
        & (signals["level"] == "practitioner")
        & (signals["direction"] == "worse")
    ]
    assert not worse.empty, "the demo build has a current practitioner signal"
    pid, name, mid = (str(worse.iloc[0][c]) for c in ("unit_id", "unit_name", "measure_id"))
    title = read_table("quality__measure").set_index("measure_id").loc[mid, "title"]
    client = client_for("cmo")
    html = client.get("/quality/").content.decode()
    link = next(x for x in _signal_links(html) if x.startswith(f"/quality/practitioners/{pid}/"))
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200
    text = page.content.decode()
    assert name in text and str(title) in text
    assert "Attributed to the attending physician at discharge" in text
    assert "Funnel limits per Spiegelhalter" in text
    stays = re.findall(r'class="stays" href="([^"]+)"', text)
    assert stays
    drill = client.get(stays[0].replace("&amp;", "&"))
    assert drill.status_code == 200 and "no-store" in drill["Cache-Control"]
    row = AccessLog.objects.get(event="view")
    assert row.filters["unit_id"] == pid and row.filters["level"] == "practitioner"


def test_practitioner_page_numbers_are_the_builds(client_for: Any) -> None:
    results = read_table("quality__measure_result")
    periods = read_table("quality__period")
    year = periods[(periods["period_type"] == "year") & periods["latest_complete"]][
        "period_start"
    ].iloc[0]
    mine = results[
        (results["level"] == "practitioner")
        & (results["unit_id"] == IN_SCOPE)
        & (results["period_type"] == "year")
        & (results["period_start"] == year)
    ]
    assert len(mine) >= 3
    html = client_for("cmo").get(f"/quality/practitioners/{IN_SCOPE}/").content.decode()
    for _, r in mine.iterrows():
        row = html[html.index(f'data-measure="{r["measure_id"]}"') :][:4000]
        assert f">{int(r['denominator']):,}<" in row


def test_practitioner_page_access(client_for: Any, role_users: dict[str, Any]) -> None:
    from cmo.directory.models import Practitioner

    url_in, url_out = (f"/quality/practitioners/{p}/" for p in (IN_SCOPE, OUT_OF_SCOPE))
    for role, expected_in, expected_out in (
        ("cmo", 200, 200),
        ("quality_analyst", 200, 200),
        ("medical_staff_office", 200, 200),
        ("department_chair", 200, 403),
        ("safety_officer", 403, 403),
        ("clinician", 403, 403),
        ("board_member", 403, 403),
        ("compliance", 403, 403),
    ):
        client = client_for(role)
        assert client.get(url_in).status_code == expected_in, role
        assert client.get(url_out).status_code == expected_out, role
    # A clinician linked to a practitioner in the directory sees that page only, and lands on it.
    Practitioner.objects.create(code=IN_SCOPE, name="Ramirez, Kevin", user=role_users["clinician"])
    clinician = client_for("clinician")
    assert clinician.get(url_in).status_code == 200
    assert clinician.get(url_out).status_code == 403
    landing = clinician.get("/", follow=True).content.decode()
    assert f'id="own-results" href="{url_in}"' in landing
    assert "Stays" not in clinician.get(url_in).content.decode()  # no patient access


def test_chair_lands_on_their_department_and_sees_its_practitioners(client_for: Any) -> None:
    chair = client_for("department_chair")
    landing = chair.get("/", follow=True)
    assert landing.redirect_chain[-1][0] == "/quality/my-department/"
    html = landing.content.decode()
    assert "Riverside University Hospital - Cardiology" in html
    assert f"/quality/practitioners/{IN_SCOPE}/" in html
    assert f"/quality/practitioners/{OUT_OF_SCOPE}/" not in html
    for link in re.findall(r'class="stays" href="([^"]+)"', html):
        assert chair.get(link.replace("&amp;", "&")).status_code == 200
    other = chair.get("/quality/departments/org-h3-medicine/").content.decode()
    assert "/quality/practitioners/" not in other and 'class="stays"' not in other


def test_board_member_sees_department_aggregates_but_no_practitioner(client_for: Any) -> None:
    board = client_for("board_member")
    html = board.get(f"/quality/departments/{CHAIR_DEPARTMENTS[0]}/").content.decode()
    assert "Length of stay" in html
    assert "/quality/practitioners/" not in html and 'class="stays"' not in html
    assert "/quality/practitioners/" not in board.get("/quality/").content.decode()


def test_unit_page_counts_stays_through_the_unit(client_for: Any) -> None:
    html = client_for("cmo").get("/quality/units/loc-h1-tele/").content.decode()
    assert "Riverside Cardiac Telemetry Unit" in html and 'class="stays"' in html


def test_dashboard_groups_tiles_and_puts_signals_first(client_for: Any) -> None:
    from cmo.measures.spec import GROUPS

    html = client_for("cmo").get("/quality/").content.decode()
    titles = re.findall(r'<h2 id="group-(\w+)"', html)
    assert titles and titles == [g for g in GROUPS if g in titles]
    for group in titles:
        section = html[html.index(f'id="group-{group}"') :]
        section = section[
            : section.find("measure-group", 10) if "measure-group" in section[10:] else None
        ]
        badges = re.findall(r'<span class="badge (worse|local|better|none)"', section)
        rank = {"worse": 0, "local": 1, "better": 2, "none": 2}
        assert [rank[b] for b in badges] == sorted(rank[b] for b in badges)


def test_the_cmo_sets_a_target_shown_on_its_tile(client_for: Any) -> None:
    from cmo.quality.interface import targets

    cmo = client_for("cmo")
    assert cmo.get("/quality/targets/").status_code == 200
    bad = cmo.post("/quality/targets/", {"measure_id": "IMORT", "value": "-1", "source": "x"})
    assert bad.status_code == 200 and "IMORT" not in targets()
    response = cmo.post(
        "/quality/targets/",
        {"measure_id": "IMORT", "value": "2.5", "source": "CMS Care Compare 2025"},
    )
    assert response.status_code == 302
    assert targets()["IMORT"].value == pytest.approx(0.025)
    tile = cmo.get("/quality/").content.decode()
    tile = tile[tile.index('id="tile-IMORT"') :][:3000]
    assert "2.5%" in tile and "CMS Care Compare 2025" in tile
    assert (
        cmo.post(
            "/quality/targets/", {"measure_id": "NOPE", "value": "1", "source": "x"}
        ).status_code
        == 404
    )
    for role in ("quality_analyst", "department_chair", "board_member"):
        assert client_for(role).get("/quality/targets/").status_code == 403


# --- measure pages and the drill-down ---------------------------------------------------------


def _table_rows(html: str) -> list[tuple[str, int, str | None]]:
    """(name, stays, patients link) of each row of the measure page's level table."""
    table = html[html.index('id="levels"') : html.index("</table>", html.index('id="levels"'))]
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        name = re.sub(r"<[^>]+>", "", re.findall(r'<th scope="row">(.*?)</th>', tr, re.S)[0])
        cells = re.findall(r'<td class="num">([^<]*)</td>', tr)
        link = re.findall(r'href="(/quality/measure/[^"]+/patients/[^"]+)"', tr)
        out.append((name.strip(), int(cells[0].replace(",", "")), link[0] if link else None))
    return out


def test_drill_down_counts_equal_the_tables(client_for: Any) -> None:
    client = client_for("cmo")
    rows = _table_rows(client.get("/quality/measure/IMORT/?period=year").content.decode())
    checked = 0
    for _name, n, link in rows:
        if link is None or n >= 400:
            continue
        html = client.get(link.replace("&amp;", "&")).content.decode()
        assert f'<strong id="counted">{n}</strong>' in html, (link, n)
        checked += 1
        if checked >= 4:
            break
    assert checked >= 2


def test_drill_down_lists_outcomes_first_with_age_sex_and_filters(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    client = client_for("cmo")
    url = (
        "/quality/measure/IMORT/patients/?period_type=year&period_start=2024-01-01"
        "&level=department&unit_id=org-h1-cardiology"
    )
    html = client.get(url).content.decode()
    table = html[html.index('id="patients"') : html.index("</table>", html.index('id="patients"'))]
    outcomes = re.findall(r'<td class="outcome">(Yes|No)</td>', table)
    assert "Yes" in outcomes and outcomes == sorted(outcomes, key=lambda o: o != "Yes")
    assert re.search(r'<td class="num">\d+</td><td>[MF]</td>', table)
    assert 'id="excluded-stays"' in html
    deaths = client.get(url + "&outcome=yes").content.decode()
    assert '<td class="outcome">No</td>' not in deaths
    csv = client.get(url + "&format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("patient_id,mrn,stay_id,age,sex") and len(lines) > 1
    logged = AccessLog.objects.filter(event="view", filters__format="csv")
    assert logged.count() == 1 and logged.get().n_patients > 0


def test_measure_page_period_choice_flags_and_csv(client_for: Any) -> None:
    client = client_for("cmo")
    year = client.get("/quality/measure/IMORT/?period=year").content.decode()
    quarter = client.get("/quality/measure/IMORT/").content.decode()
    assert re.search(r"\((\d{4})\)</span>", year) and re.search(r"\(Q\d \d{4}\)", quarter)
    assert 'class="sortable"' in year
    results = read_table("quality__measure_result")
    periods = read_table("quality__period")
    last = periods[(periods["period_type"] == "year") & periods["latest_complete"]][
        "period_start"
    ].iloc[0]
    yr = results[
        (results["measure_id"] == "IMORT")
        & (results["period_type"] == "year")
        & (results["period_start"] == last)
        & results["level"].isin(["site", "department", "unit"])
    ]
    flagged = yr[(yr["ci_low"] > 1) | (yr["ci_high"] < 1)]
    assert year.count("flag-worse") + year.count("flag-better") == len(flagged)
    csv = client.get("/quality/measure/IMORT/?period=year&format=csv")
    lines = csv.content.decode().strip().splitlines()
    assert csv["Content-Type"].startswith("text/csv") and len(lines) == len(yr) + 1
    assert client.get("/quality/measure/IMORT/?period=decade").status_code == 400


def test_chair_sees_only_patients_links_that_work(client_for: Any) -> None:
    chair = client_for("department_chair")
    html = chair.get("/quality/measure/IMORT/").content.decode()
    links = [link for _n, _c, link in _table_rows(html) if link]
    assert links and all("org-h1-cardiology" in link for link in links)
    for link in links:
        assert chair.get(link.replace("&amp;", "&")).status_code == 200


def test_a_refused_api_call_is_logged_as_denied(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    response = client_for("board_member").get("/api/quality/measures/IMORT/long")
    assert response.status_code == 403
    row = AccessLog.objects.get(event="denied")
    assert row.via == "api" and row.username == "t_board_member"


def test_attention_list_names_the_scale_of_chart_signals(client_for: Any) -> None:
    """A 3-sigma signal's numbers are given on the chart's own scale, named. The demo build
    may have no current site-level 3-sigma signal, so the item's text is made here from a
    signal row on the build's real system chart, and the page is checked when it has one."""
    from cmo.quality import reads
    from cmo.quality.views import _chart_detail

    scale = r"(Observed / expected \(O/E\)|Rate \(%\)|Mean \(\w+\))"
    m = next(x for x in reads.list_measures() if x["measure_id"] == "READM30")
    row = {"measure_id": "READM30", "level": "system", "unit_id": "all", "kind": "sigma"}
    text = _chart_detail(m, {**row, "detail": "1.442 outside limits 0.61-1.395"})  # type: ignore[arg-type]
    assert re.fullmatch(scale + r": [\d.%]+ outside limits [\d.%]+–[\d.%]+", text), text
    signals = read_table("quality__signal")
    sigma = signals[
        signals["current"] & (signals["kind"] == "sigma") & (signals["level"] == "site")
    ]
    if not sigma.empty:
        html = client_for("cmo").get("/quality/").content.decode()
        assert re.search(scale + r": [\d.%]+ outside", html)


def test_board_member_sees_no_practitioner_funnel(client_for: Any) -> None:
    cmo = client_for("cmo").get("/quality/measure/LOS/").content.decode()
    assert 'id="funnel-spec"' in cmo
    for role in ("board_member", "clinician"):
        html = client_for(role).get("/quality/measure/LOS/").content.decode()
        assert 'id="funnel-spec"' not in html and "Practitioner-level results are shown" in html


def test_a_target_is_drawn_on_a_chart_on_its_scale(client_for: Any) -> None:
    import json

    cmo = client_for("cmo")
    cmo.post("/quality/targets/", {"measure_id": "LACE", "value": "7", "source": "plan 2026"})
    html = cmo.get("/quality/measure/LACE/").content.decode()
    spec = json.loads(
        re.search(r'id="control-spec" type="application/json">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    )
    targets = [
        layer["data"]["values"][0]["target"]
        for layer in spec["layer"]
        if isinstance(layer.get("data"), dict) and "target" in str(layer["data"])
    ]
    assert targets == [7.0]
    assert "target 7.00 points (plan 2026)" in html
