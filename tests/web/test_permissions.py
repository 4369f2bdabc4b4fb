"""The permission matrix: every role × every page and API endpoint -> expected status.

Two parts. One table, written out by hand from the security model (ARCHITECTURE.md §7, issue
6), so a change of a role's rights shows up here as a failing cell rather than silently
following code. And a matrix generated from the registry: every URL pattern of the shell and of
every registered domain must declare its capability (``capability_required``), and every role
gets 403 without it and no 403 with it; a new domain app's pages are covered without editing
this file.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmo.web.roles import ROLES, all_roles, grants

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
    "overview": "/overview/",
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
    "directory": "/directory/",
    "directory_own": "/directory/practitioner/P014/",
    "directory_other": "/directory/practitioner/P007/",
    "api_directory": "/api/directory/practitioners",
    "api_directory_own": "/api/directory/practitioners/P014",
    "api_directory_other": "/api/directory/practitioners/P007",
    "api_departments": "/api/directory/departments",
    # Practitioner review (issue 16): peer review is the committee's and the CMO's only.
    "review_oppe": "/review/",
    "review_fppe": "/review/fppe/",
    "review_indicators": "/review/indicators/",
    "review_timeline_other": "/review/practitioner/P007/",
    "review_peer": "/review/peer/",
    "review_peer_case": "/review/peer/1/",
    "api_review_fppe": "/api/review/fppe",
    "api_review_peer": "/api/review/peer/cases",
    "api_review_peer_case": "/api/review/peer/cases/1",
    "practitioner_own_dept": "/quality/practitioners/pr00008/",
    "practitioner_other_dept": "/quality/practitioners/pr00064/",
    "department": "/quality/departments/org-h1-cardiology/",
    "department_other": "/quality/departments/org-h3-medicine/",
    "unit": "/quality/units/loc-h1-tele/",
    "my_department": "/quality/my-department/",
    "targets": "/quality/targets/",
    "lockouts": "/access-log/lockouts/",
    "board": "/board/",
    "board_draft": "/board/draft/",
    "board_department": "/board/department/",
    "board_csv": "/board/export/scorecard.csv",
    "api_board_reports": "/api/board/reports",
}

#                        cmo  qa   mso  chair safe clin board comp anon
MATRIX = """
home                     302  302  302  302   302  302  302   302  302
overview                 200  200  200  200   200  200  200   200  302
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
directory                200  200  200  200   200  403  403   403  302
directory_own            200  200  200  200   200  403  403   403  302
directory_other          200  200  200  404   200  403  403   403  302
api_directory            200  200  200  200   200  403  403   403  401
api_directory_own        200  200  200  200   200  403  403   403  401
api_directory_other      200  200  200  404   200  403  403   403  401
api_departments          200  200  200  200   200  403  403   403  401
review_oppe              200  403  200  200   403  403  403   403  302
review_fppe              200  403  200  200   403  403  403   403  302
review_indicators        200  403  403  200   403  403  403   403  302
review_timeline_other    200  403  200  404   403  403  403   403  302
review_peer              200  403  403  403   403  403  403   403  302
review_peer_case         404  403  403  403   403  403  403   403  302
api_review_fppe          200  403  200  200   403  403  403   403  401
api_review_peer          200  403  403  403   403  403  403   403  401
api_review_peer_case     404  403  403  403   403  403  403   403  401
practitioner_own_dept    200  200  200  200   403  403  403   403  302
practitioner_other_dept  200  200  200  403   403  403  403   403  302
department               200  200  200  200   200  200  200   403  302
department_other         200  200  200  200   200  200  200   403  302
unit                     200  200  200  200   200  200  200   403  302
my_department            200  200  200  200   200  200  200   403  302
targets                  200  403  403  403   403  403  403   403  302
lockouts                 200  403  403  403   403  403  403   403  302
board                    200  200  200  200   200  403  200   403  302
board_draft              200  403  403  403   403  403  403   403  302
board_department         200  200  403  200   403  403  403   403  302
board_csv                200  200  403  403   403  403  403   403  302
api_board_reports        200  200  200  200   200  403  200   403  401
"""


@pytest.fixture
def directory(db: Any) -> None:
    """Directory rows of two practitioners: P014 in the test chair's department, P007 in
    another (D-SUR)."""
    from cmo.directory.models import Department, Membership, Practitioner, Site
    from demo_warehouse import CHAIR_DEPARTMENTS

    site, _ = Site.objects.get_or_create(code="S1", defaults={"name": "North"})
    for code, dept in (("P014", CHAIR_DEPARTMENTS[0]), ("P007", "D-SUR")):
        department, _ = Department.objects.get_or_create(code=dept, defaults={"name": dept})
        department.site = site
        department.save()
        prac = Practitioner.objects.create(code=code, name=f"Dr {code}")
        Membership.objects.create(practitioner=prac, department=department)


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
def test_permission(client_for: Any, directory: None, page: str, role: str, expected: int) -> None:
    client = client_for(None if role == "anonymous" else role)
    response = client.get(PAGES[page])
    assert response.status_code == expected, response.content[:300]
    if expected == 302 and role == "anonymous":
        assert "/accounts/login/" in response["Location"]


def test_chair_attention_list_names_only_their_departments_practitioners(
    client_for: Any, role_users: dict[str, Any]
) -> None:
    """The build's current practitioner signal (the planted long-stay hospitalist) is named to
    a chair of a department where the practitioner attends, and to no chair of another; the
    CMO sees the name, the board never."""
    from cmo.directory.scope import source
    from demo_warehouse import read_table

    signals = read_table("quality__signal")
    signals = signals[(signals["level"] == "practitioner") & signals["current"]]
    assert not signals.empty, "the demo build has a current practitioner signal"
    pid, name = str(signals.iloc[0]["unit_id"]), str(signals.iloc[0]["unit_name"])
    long = read_table("quality__measure_long")
    attends = set(long.loc[long["practitioner_id"] == pid, "department_id"].dropna())
    elsewhere = sorted(set(long["department_id"].dropna()) - attends)
    assert attends and elsewhere
    chair = role_users["department_chair"]
    for departments, named in ((sorted(attends)[:1], True), (elsewhere[:1], False)):
        source.assign(chair, departments)
        html = client_for("department_chair").get("/quality/").content.decode()
        assert (name in html) is named, departments
        api = client_for("department_chair").get("/api/quality/signals").json()
        assert (pid in {s["unit_id"] for s in api if s["level"] == "practitioner"}) is named
        if not named:
            assert "Practitioner of another department" in html
    assert name in client_for("cmo").get("/quality/").content.decode()
    assert name not in client_for("board_member").get("/quality/").content.decode()


# A value for each path converter (any value will do: the capability is checked first).
EXAMPLES = {"int": "1", "uuid": "00000000-0000-0000-0000-000000000001"}


def _example(match: Any) -> str:
    return EXAMPLES.get(match.group(1) or "str", f"x-{match.group(2)}")


# Views anyone may open (each handles anonymous users itself).
# The overview is any signed-in user's: each domain's tile function shows only what the user
# may see (tests/web/test_overview.py).
PUBLIC = {"home", "login", "logout", "password_change", "healthz", "overview"}


def _patterns(resolver: Any = None, prefix: str = "", namespace: str = "") -> list[Any]:
    """(url name, example path, view) of every URL pattern but the admin's and the API's."""
    import re

    from django.urls import URLPattern, URLResolver, get_resolver

    found = []
    for p in (resolver or get_resolver()).url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if p.namespace in ("admin", "api"):
                continue
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            found += _patterns(p, route, ns)
        elif isinstance(p, URLPattern):
            example = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", _example, route).lstrip("^").rstrip("$")
            found.append((f"{namespace}{p.name}", example, p.callback))
    return found


def test_every_view_declares_its_capability() -> None:
    """A page without ``capability_required`` would be open to every signed-in role."""
    bare = [
        name
        for name, _path, view in _patterns()
        if name.split(":")[-1] not in PUBLIC and not getattr(view, "capability", None)
    ]
    assert bare == []
    names = {name for name, _p, _v in _patterns()}
    assert {"quality:dashboard", "directory:practitioners", "directory:practitioner"} <= names


def _generated() -> list[Any]:
    import cmo.web

    cmo.web.setup()
    cases = []
    for name, path, view in _patterns():
        capabilities = getattr(view, "capabilities", None)
        if capabilities is None:
            continue
        for role in [*all_roles(), "anonymous"]:
            cases.append(pytest.param(path, capabilities, role, id=f"{name}-{role}"))
    return cases


@pytest.mark.parametrize(("path", "capabilities", "role"), _generated())
def test_generated_matrix(
    client_for: Any, path: str, capabilities: tuple[str, ...], role: str
) -> None:
    """Every role × every capability-guarded view, from the registry's grants."""
    response = client_for(None if role == "anonymous" else role).get(path)
    if role == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif set(capabilities) & grants()[role]:
        assert response.status_code not in (302, 403) and response.status_code < 500
    else:
        assert response.status_code == 403


def test_every_api_operation_refuses_anonymous_users(client: Any) -> None:
    """Every GET operation of every domain's router answers 401 without credentials."""
    import re

    from cmo.web.api import api

    schema = api.get_openapi_schema()
    paths = [p for p, ops in schema["paths"].items() if "get" in ops]
    assert any(p.startswith("/api/directory/") for p in paths)
    for path in paths:
        url = re.sub(r"{(\w+)}", r"x-\1", path)
        assert client.get(url).status_code == 401, path
