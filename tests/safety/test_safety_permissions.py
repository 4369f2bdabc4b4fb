"""The permission matrix of the safety pages and API: every role × every view -> status.

Written out by hand from issue 17's protection rules: the safety officer and CMO see all; a
chair their departments' events (the test chair has D-CAR); a reporter their own; peer-review
referrals only the CMO (and the review committee, later); analytics are de-identified.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from safety_helpers import report_data

from cmo.web.roles import ROLES

pytestmark = pytest.mark.django_db

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

# {car}: an event of D-CAR reported by the clinician; {sur}: an anonymous event of D-SUR;
# {action}: an action of the RCA² of {car}.
VIEWS = {
    "report": ("get", "/safety/"),
    "report_post": ("post", "/safety/"),
    "thanks": ("get", "/safety/thanks/"),
    "mine": ("get", "/safety/mine/"),
    "queue": ("get", "/safety/queue/"),
    "event_car": ("get", "/safety/event/{car}/"),
    "event_sur": ("get", "/safety/event/{sur}/"),
    "triage": ("post", "/safety/event/{sur}/triage/"),
    "rca": ("get", "/safety/event/{car}/rca/"),
    "action": ("get", "/safety/action/{action}/"),
    "analytics": ("get", "/safety/analytics/"),
    "referrals": ("get", "/safety/referrals/"),
    "api_create": ("api_post", "/api/safety/events"),
    "api_event_car": ("get", "/api/safety/events/{car}"),
    "api_event_sur": ("get", "/api/safety/events/{sur}"),
    "api_queue": ("get", "/api/safety/queue"),
}

#               cmo  qa   mso  chair safe clin board comp anon
MATRIX = """
report          200  200  200  200   200  200  200   200  302
report_post     302  302  302  302   302  302  302   302  302
thanks          200  200  200  200   200  200  200   200  302
mine            200  200  200  200   200  200  200   200  302
queue           200  403  403  200   200  403  403   403  302
event_car       200  403  403  200   200  200  403   403  302
event_sur       200  403  403  403   200  403  403   403  302
triage          302  403  403  403   302  403  403   403  302
rca             200  403  403  403   200  403  403   403  302
action          200  403  403  403   200  403  403   403  302
analytics       200  200  403  200   200  403  200   403  302
referrals       200  403  403  403   403  403  403   403  302
api_create      201  201  201  201   201  201  201   201  401
api_event_car   200  404  404  200   200  200  404   404  401
api_event_sur   200  404  404  404   200  404  404   404  401
api_queue       200  403  403  200   200  403  403   403  401
"""


def _cases() -> list[Any]:
    cases = []
    for line in MATRIX.strip().splitlines():
        view, *codes = line.split()
        for role, code in zip(ROLE_COLUMNS, codes, strict=True):
            cases.append(pytest.param(view, role, int(code), id=f"{view}-{role}"))
    return cases


def test_matrix_covers_every_role_view_and_url() -> None:
    from django.urls import get_resolver

    assert set(ROLE_COLUMNS) - {"anonymous"} == set(ROLES)
    assert {line.split()[0] for line in MATRIX.strip().splitlines()} == set(VIEWS)
    # Every page of the app is in the matrix (a new page must be added here).
    names = {
        p.name for p in get_resolver("cmo.safety.urls").url_patterns if getattr(p, "name", None)
    }
    covered = {"report", "thanks", "mine", "queue", "event", "triage", "investigation"}
    covered |= {"action", "analytics", "referrals"}
    assert names == covered


@pytest.fixture
def objects(
    make_event: Any, role_users: dict[str, Any], directory: dict[str, Any]
) -> dict[str, int]:
    from cmo.safety.models import Action, Investigation

    car = make_event(department=directory["car"], reporter=role_users["clinician"])
    sur = make_event(department=directory["sur"], anonymous=True)
    inv = Investigation.objects.create(event=car)
    action = Action.objects.create(
        investigation=inv,
        description="Bed alarms",
        kind="forcing",
        owner="Nurse manager",
        due=date(2025, 6, 1),
        measure_kind="safety",
        measure_id="fall",
        unit=directory["icu"],
    )
    return {"car": car.pk, "sur": sur.pk, "action": action.pk}


@pytest.mark.parametrize(("view", "role", "expected"), _cases())
def test_permission(
    client_for: Any,
    objects: dict[str, int],
    directory: dict[str, Any],
    safety_warehouse: Any,
    view: str,
    role: str,
    expected: int,
) -> None:
    client = client_for(None if role == "anonymous" else role)
    method, url = VIEWS[view]
    url = url.format(**objects)
    if method == "get":
        r = client.get(url)
    elif method == "api_post":
        payload = {
            "event_type": "fall",
            "category": "near_miss",
            "occurred_at": "2026-01-05T10:30:00Z",
            "unit": "U-ICU",
            "description": "Wet floor.",
        }
        r = client.post(url, payload, content_type="application/json")
    elif view == "triage":
        r = client.post(url, {"op": "classify", "sentinel": "on"})
    else:
        r = client.post(url, report_data(directory))
    assert r.status_code == expected, r.content[:300]
    if expected == 302 and role == "anonymous":
        assert "/accounts/login/" in r["Location"]


def test_a_chair_sees_only_their_departments_events(
    client_for: Any, objects: dict[str, int]
) -> None:
    from cmo.safety.models import Event

    page = client_for("department_chair").get("/safety/queue/").content.decode()
    car, sur = Event.objects.get(pk=objects["car"]), Event.objects.get(pk=objects["sur"])
    assert car.reference in page and sur.reference not in page
    assert (
        'id="classify-form"'
        not in client_for("department_chair").get(f"/safety/event/{car.pk}/").content.decode()
    )  # read-only: no triage for chairs


def test_every_view_of_event_data_is_logged(
    client_for: Any, objects: dict[str, int], safety_warehouse: Any
) -> None:
    from cmo.web.models import AccessLog

    client = client_for("safety_officer")
    for url in (
        "/safety/queue/",
        f"/safety/event/{objects['car']}/",
        "/api/safety/queue",
        f"/safety/event/{objects['car']}/rca/",
        f"/safety/action/{objects['action']}/",
    ):
        before = AccessLog.objects.count()
        assert client.get(url).status_code == 200
        assert AccessLog.objects.count() == before + 1, url
    assert AccessLog.objects.filter(username="t_safety_officer").count() == 5


def test_analytics_and_board_data_name_no_one(
    client_for: Any, objects: dict[str, int], safety_warehouse: Any
) -> None:
    from cmo.safety.analytics import EXPORT_COLUMNS, event_rows

    rows = event_rows()
    assert list(rows.columns) == EXPORT_COLUMNS
    for banned in ("patient", "practitioner", "reporter", "stay", "description"):
        assert not any(banned in c for c in rows.columns)
    page = client_for("board_member").get("/safety/analytics/?by=unit").content.decode()
    assert "t_clinician" not in page and "Dr One" not in page


def test_the_sync_exports_events_without_identity(objects: dict[str, int], tmp_path: Any) -> None:
    """The export hook writes app__safety_event with its declared types, one row per event that
    is not a merged duplicate, and no identity column."""
    import pyarrow as pa

    from cmo.safety.analytics import EXPORT_SCHEMA
    from cmo.safety.models import Event
    from cmo.web.export import write_files

    counts = write_files(tmp_path)
    with pa.memory_map(str(tmp_path / "app__safety_event.arrow")) as source:
        table = pa.ipc.open_file(source).read_all()
    assert table.column_names == list(EXPORT_SCHEMA)
    assert counts["app__safety_event"] == Event.objects.exclude(status="merged").count() > 0
    assert table.schema.field("occurred_date").type == pa.date32()
    assert table.schema.field("sentinel").type == pa.bool_()
    assert table.schema.field("days_to_close").type == pa.int64()
