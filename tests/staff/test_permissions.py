"""The staff permission matrix: every role × every staff page and endpoint -> status.

Written out by hand from the issue's roles (the office edits; chairs review their departments;
a credentials committee; board members approve but see no clinical detail; compliance reviews
exclusion matches), so a change of rights shows as a failing cell.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmo.web.models import AccessLog

ROLE_COLUMNS = [
    "cmo",
    "quality_analyst",
    "medical_staff_office",
    "department_chair",
    "safety_officer",
    "clinician",
    "board_member",
    "compliance",
    "credentials_committee",
    "anonymous",
]
PAGES = {
    "queue": "/staff/",
    "file": "/staff/file/{file}/",
    "packet": "/staff/file/{file}/packet/",
    "packet_pdf": "/staff/file/{file}/packet.pdf",
    "applications": "/staff/applications/",
    "screening": "/staff/screening/",
    "privileges": "/staff/privileges/D-CAR/",
    "api_files": "/api/staff/files",
    "api_file": "/api/staff/files/{file}",
    "api_expirables": "/api/staff/expirables?days=60",
    "api_runs": "/api/staff/screening/runs",
}

#                 cmo  qa   mso  chair safe clin board comp cc   anon
MATRIX = """
queue             200  403  200  200   403  403  403   403  200  302
file              200  403  200  200   403  403  403   403  200  302
packet            200  403  200  200   403  403  403   403  200  302
packet_pdf        200  403  200  200   403  403  403   403  200  302
applications      200  403  200  200   403  403  200   403  200  302
screening         403  403  200  403   403  403  403   200  403  302
privileges        200  403  200  200   403  403  403   403  200  302
api_files         200  403  200  200   403  403  403   403  200  401
api_file          200  403  200  200   403  403  403   403  200  401
api_expirables    200  403  200  200   403  403  403   403  200  401
api_runs          403  403  200  403   403  403  403   200  403  401
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
    from cmo.staff.apps import StaffConfig
    from cmo.web.roles import ROLES

    assert set(ROLE_COLUMNS) - {"anonymous"} == set(ROLES) | set(StaffConfig.domain.roles)
    assert {line.split()[0] for line in MATRIX.strip().splitlines()} == set(PAGES)


@pytest.mark.parametrize(("page", "role", "expected"), _cases())
def test_permission(
    client_for: Any, staff: dict[str, Any], page: str, role: str, expected: int
) -> None:
    client = client_for(None if role == "anonymous" else role)
    url = PAGES[page].format(file=staff["pr1"].pk)  # Dr Heart, cardiology (the chair's)
    before = AccessLog.objects.count()
    response = client.get(url)
    assert response.status_code == expected, response.content[:300]
    if expected == 302:
        assert "/accounts/login/" in response["Location"]
    if page in ("file", "packet", "packet_pdf", "api_file") and expected == 200:
        entry = AccessLog.objects.latest("id")
        assert AccessLog.objects.count() == before + 1
        assert entry.filters["credential_file"] == "pr1" and entry.username == f"s_{role}"


def test_chair_sees_only_their_departments_files(client_for: Any, staff: dict[str, Any]) -> None:
    chair = client_for("department_chair")
    assert chair.get(f"/staff/file/{staff['pr2'].pk}/").status_code == 404  # surgery
    assert chair.get("/staff/privileges/D-SUR/").status_code == 404
    listed = {f["practitioner"] for f in chair.get("/api/staff/files").json()}
    assert listed == {"Dr Anna Heart", "Dr Carla Stent"}


def test_staff_domain_registers_with_the_shell() -> None:
    from django.apps import apps

    from cmo.web.registry import domains, resolve

    assert type(apps.get_app_config("staff")).__name__ == "StaffConfig"
    staff = next(d for d in domains() if d.name == "staff")
    assert resolve(staff.api).tags == ["staff"] and resolve(staff.urls).app_name == "staff"
    assert set(staff.roles) == {"credentials_committee"}


@pytest.mark.parametrize(
    "path",
    [
        "/staff/file/1/verify/",
        "/staff/file/1/add/dea/",
        "/staff/hold/1/",
        "/staff/applications/1/move/",
        "/staff/screening/run/",
        "/staff/screening/match/1/",
    ],
)
def test_post_only_views_check_the_capability_before_the_method(client_for: Any, path: str) -> None:
    """Anonymous -> login, no capability -> 403, with it a GET is 405 (never 500)."""
    assert client_for(None).get(path).status_code == 302
    assert client_for("clinician").get(path).status_code == 403
    assert client_for("medical_staff_office").get(path).status_code == 405
