"""The API: token authentication, permission checks, access-logged patient rows, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest

from cmo.web.models import AccessLog, ApiToken
from demo_warehouse import CHAIR_DEPARTMENTS, read_table

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(role_users: dict[str, Any]) -> str:
    return ApiToken.issue(role_users["quality_analyst"], name="etl")[1]


def test_token_authenticates_a_service_account(client: Any, token: str) -> None:
    response = client.get("/api/quality/measures", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    ids = {m["measure_id"] for m in response.json()}
    assert ids == set(read_table("quality__measure")["measure_id"])
    assert ApiToken.objects.get().last_used is not None


def test_bad_or_missing_token_is_401(client: Any, token: str) -> None:
    assert client.get("/api/quality/measures").status_code == 401
    bad = client.get("/api/quality/measures", HTTP_AUTHORIZATION="Bearer cmo_wrong")
    assert bad.status_code == 401


def test_inactive_user_token_is_refused(client: Any, token: str, role_users: Any) -> None:
    user = role_users["quality_analyst"]
    user.is_active = False
    user.save()
    assert (
        client.get("/api/quality/measures", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    )


def test_results_by_measure_period_level(client: Any, token: str) -> None:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    rows = client.get(
        "/api/quality/measures/IMORT/results?period_type=quarter&level=department", **auth
    ).json()
    assert {r["level"] for r in rows} == {"department"}
    assert {r["period_type"] for r in rows} == {"quarter"}
    res = read_table("quality__measure_result")
    departments = res.loc[(res["level"] == "department") & (res["measure_id"] == "IMORT")]
    assert {r["unit_id"] for r in rows} == set(departments["unit_id"])
    r = rows[-1]
    assert r["ci_low"] <= r["oe"] <= r["ci_high"]
    bad = client.get("/api/quality/measures/IMORT/results?level=galaxy", **auth)
    assert bad.status_code == 422


def test_long_rows_are_logged_with_their_patients(client: Any, token: str) -> None:
    response = client.get(
        "/api/quality/measures/IMORT/long?period_type=month&period_start=2024-10-01&limit=7",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 7 and all(r["period_month"] == "2024-10-01" for r in rows)
    entry = AccessLog.objects.get()
    assert entry.via == "api" and entry.username == "t_quality_analyst"
    assert set(entry.patient_ids) == {r["patient_id"] for r in rows}
    assert entry.filters["limit"] == "7"


def test_long_rows_limit_is_bounded(client: Any, token: str) -> None:
    response = client.get(
        "/api/quality/measures/IMORT/long?limit=100000",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422
    assert AccessLog.objects.count() == 0


def test_signals_hide_practitioners_from_roles_without_the_right(client_for: Any) -> None:
    cmo = client_for("cmo").get("/api/quality/signals").json()
    board = client_for("board_member").get("/api/quality/signals").json()
    assert any(s["level"] == "practitioner" for s in cmo)
    assert board and not any(s["level"] == "practitioner" for s in board)
    current = client_for("cmo").get("/api/quality/signals?current=true").json()
    assert current and all(s["current"] for s in current) and len(current) <= len(cmo)
    past = client_for("cmo").get("/api/quality/signals?current=false").json()
    assert not any(s["current"] for s in past) and len(past) + len(current) == len(cmo)


def test_openapi_schema_lists_the_endpoints(client_for: Any) -> None:
    schema = client_for("clinician").get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/quality/measures",
        "/api/quality/measures/{measure_id}/results",
        "/api/quality/measures/{measure_id}/long",
        "/api/quality/signals",
    } <= paths
    long = schema["paths"]["/api/quality/measures/{measure_id}/long"]["get"]
    assert {"200", "400", "403", "404", "422"} <= set(long["responses"])
    limit = next(p for p in long["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 5000
    unit = next(p for p in long["parameters"] if p["name"] == "unit_id")
    assert "maxLength" in str(unit["schema"])
    docs = client_for("clinician").get("/api/docs")
    assert b"swagger-ui-bundle.js" in docs.content and b"cdn." not in docs.content


def test_chair_gets_only_their_departments_practitioners(client_for: Any) -> None:
    url = "/api/quality/measures/IMORT/results?period_type=year&level=practitioner"
    everyone = {r["unit_id"] for r in client_for("cmo").get(url).json()}
    chair = {r["unit_id"] for r in client_for("department_chair").get(url).json()}
    assert chair and chair < everyone
    long = read_table("quality__measure_long")
    long = long[(long["measure_id"] == "IMORT") & long["in_population"]]
    assert chair == set(long.loc[long["department_id"].isin(CHAIR_DEPARTMENTS), "practitioner_id"])


def test_unknown_measure_is_404_not_an_empty_list(client_for: Any) -> None:
    client = client_for("cmo")
    for url in ("/api/quality/measures/NOPE/results", "/api/quality/measures/NOPE/long"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "NOPE" in response.json()["detail"]
    assert AccessLog.objects.count() == 0
