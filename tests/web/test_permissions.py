"""The permission matrix: every role × every page and API endpoint -> expected status.

One table, written out by hand from the security model (ARCHITECTURE.md §7, issue 6), so a
change of a role's rights shows up here as a failing cell rather than silently following code.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmo.web.roles import ROLES

ROLE_COLUMNS = [
    "cmo",
    "quality_analyst",
    "medical_staff_office",
    "department_chair",
    "safety_officer",
    "clinician",
    "board_member",
    "compliance",
    "anonymous",
]

PATIENTS = (
    "/quality/measure/mort_inpatient/patients/"
    "?period_type=year&period_start=2026-01-01&level=department&unit_id=D-CAR"
)
PAGES = {
    "home": "/",
    "dashboard": "/quality/",
    "dashboard_site": "/quality/?site=S1",
    "measure": "/quality/measure/mort_inpatient/",
    "patients": PATIENTS,
    "data_status": "/status/",
    "access_log": "/access-log/",
    "api_docs": "/api/docs",
    "api_measures": "/api/quality/measures",
    "api_results": "/api/quality/measures/mort_inpatient/results?level=site",
    "api_practitioner_results": "/api/quality/measures/mort_inpatient/results?level=practitioner",
    "api_signals": "/api/quality/signals",
    "api_long": (
        "/api/quality/measures/mort_inpatient/long"
        "?period_type=year&period_start=2026-01-01&level=department&unit_id=D-CAR"
    ),
}

#                        cmo  qa   mso  chair safe clin board comp anon
MATRIX = """
home                     302  302  302  302   302  302  302   302  302
dashboard                200  200  200  200   200  200  200   403  302
dashboard_site           200  200  200  200   200  200  200   403  302
measure                  200  200  200  200   200  200  200   403  302
patients                 200  200  403  200   200  403  403   403  302
data_status              200  200  403  403   403  403  403   403  302
access_log               200  403  403  403   403  403  403   200  302
api_docs                 200  200  200  200   200  200  200   200  302
api_measures             200  200  200  200   200  200  200   403  401
api_results              200  200  200  200   200  200  200   403  401
api_practitioner_results 200  200  200  200   403  403  403   403  401
api_signals              200  200  200  200   200  200  200   403  401
api_long                 200  200  403  200   200  403  403   403  401
"""


def _cases() -> list[Any]:
    cases = []
    for line in MATRIX.strip().splitlines():
        page, *codes = line.split()
        assert len(codes) == len(ROLE_COLUMNS), page
        for role, code in zip(ROLE_COLUMNS, codes, strict=True):
            cases.append(pytest.param(page, role, int(code), id=f"{page}-{role}"))
    return cases


def test_matrix_covers_every_role_and_page() -> None:
    assert set(ROLE_COLUMNS) - {"anonymous"} == set(ROLES)
    assert {line.split()[0] for line in MATRIX.strip().splitlines()} == set(PAGES)


@pytest.mark.parametrize(("page", "role", "expected"), _cases())
def test_permission(client_for: Any, page: str, role: str, expected: int) -> None:
    client = client_for(None if role == "anonymous" else role)
    response = client.get(PAGES[page])
    assert response.status_code == expected, response.content[:300]
    if expected == 302 and role == "anonymous":
        assert "/accounts/login/" in response["Location"]


def test_chair_attention_list_names_only_their_departments_practitioners(
    client_for: Any,
) -> None:
    """The sample's practitioner signals: Dr P014 of D-CAR (the test chair's department) and
    Dr P007 of D-SUR."""
    chair = client_for("department_chair").get("/quality/").content.decode()
    assert "Dr P014" in chair
    assert "Dr P007" not in chair and "Practitioner of another department" in chair
    cmo = client_for("cmo").get("/quality/").content.decode()
    assert "Dr P014" in cmo and "Dr P007" in cmo
    board = client_for("board_member").get("/quality/").content.decode()
    assert "Dr P014" not in board and "Dr P007" not in board
    api = client_for("department_chair").get("/api/quality/signals").json()
    named = {s["unit_id"] for s in api if s["level"] == "practitioner"}
    assert named == {"P014"}
