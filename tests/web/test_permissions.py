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
    "/quality/measure/IMORT/patients/"
    "?period_type=year&period_start=2024-01-01&level=department&unit_id=org-h1-cardiology"
)
PAGES = {
    "home": "/",
    "dashboard": "/quality/",
    "dashboard_site": "/quality/?site=org-h1",
    "measure": "/quality/measure/IMORT/",
    "patients": PATIENTS,
    "data_status": "/status/",
    "access_log": "/access-log/",
    "api_docs": "/api/docs",
    "api_measures": "/api/quality/measures",
    "api_results": "/api/quality/measures/IMORT/results?level=site",
    "api_practitioner_results": "/api/quality/measures/IMORT/results?level=practitioner",
    "api_signals": "/api/quality/signals",
    "api_long": (
        "/api/quality/measures/IMORT/long"
        "?period_type=year&period_start=2024-01-01&level=department&unit_id=org-h1-cardiology"
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


def _practitioner_signals() -> tuple[dict[str, str], dict[str, str]]:
    """The build's current practitioner signals: (in the chair's departments, elsewhere), as
    {practitioner id: name}; the chair's are those with stays in their departments."""
    from demo_warehouse import CHAIR_DEPARTMENTS, read_table

    signals = read_table("quality__signal")
    signals = signals[(signals["level"] == "practitioner") & signals["current"]]
    long = read_table("quality__measure_long")
    theirs = set(long.loc[long["department_id"].isin(CHAIR_DEPARTMENTS), "practitioner_id"])
    names = dict(zip(signals["unit_id"], signals["unit_name"], strict=True))
    mine = {p: n for p, n in names.items() if p in theirs}
    return mine, {p: n for p, n in names.items() if p not in theirs}


def test_chair_attention_list_names_only_their_departments_practitioners(
    client_for: Any,
) -> None:
    """The demo build signals practitioners inside and outside the chair's department."""
    mine, others = _practitioner_signals()
    assert mine and others, "the demo build has practitioner signals on both sides"
    chair = client_for("department_chair").get("/quality/").content.decode()
    assert all(name in chair for name in mine.values())
    assert not any(name in chair for name in others.values())
    assert "Practitioner of another department" in chair
    cmo = client_for("cmo").get("/quality/").content.decode()
    assert all(name in cmo for name in [*mine.values(), *others.values()])
    board = client_for("board_member").get("/quality/").content.decode()
    assert not any(name in board for name in [*mine.values(), *others.values()])
    api = client_for("department_chair").get("/api/quality/signals").json()
    named = {s["unit_id"] for s in api if s["level"] == "practitioner"}
    assert named and named.isdisjoint(others) and set(mine) <= named
