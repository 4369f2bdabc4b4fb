"""The safety API: create with a token (any role), read one's own, the queue for safety roles;
the same validation as the page; OpenAPI lists the endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from cmo.safety.models import Event
from cmo.web.models import ApiToken

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "event_type": "medication",
    "category": "incident",
    "harm": "moderate",
    "merp": "E",
    "occurred_at": "2026-01-05T10:30:00Z",
    "unit": "U-ICU",
    "practitioners": ["PR1"],
    "description": "Tenfold heparin dose; caught after one hour.",
}


def _bearer(user: Any) -> dict[str, str]:
    _token, raw = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_create_and_read_own_with_a_token(
    client: Any, role_users: dict[str, Any], directory: Any
) -> None:
    auth = _bearer(role_users["clinician"])
    r = client.post("/api/safety/events", PAYLOAD, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["reference"].startswith("SE-") and body["status"] == "new"
    e = Event.objects.get()
    assert (e.source, e.reporter, e.merp, e.department) == (
        "api",
        role_users["clinician"],
        "E",
        directory["car"],
    )
    assert client.get(f"/api/safety/events/{e.pk}", **auth).json()["reference"] == e.reference
    other = _bearer(role_users["board_member"])
    assert client.get(f"/api/safety/events/{e.pk}", **other).status_code == 404


def test_the_api_rejects_what_the_form_rejects(
    client: Any, role_users: dict[str, Any], directory: Any
) -> None:
    auth = _bearer(role_users["clinician"])
    bad = {**PAYLOAD, "merp": "B"}
    r = client.post("/api/safety/events", bad, content_type="application/json", **auth)
    assert r.status_code == 422
    assert "does not fit" in r.json()["errors"]["merp"][0]
    r = client.post(
        "/api/safety/events",
        {**PAYLOAD, "practitioners": ["NOPE"]},
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 422
    assert not Event.objects.exists()


def test_queue_for_safety_roles(
    client: Any, role_users: dict[str, Any], make_event: Any, directory: Any
) -> None:
    worst = make_event(harm="severe")
    make_event(harm="none", category="near_miss")
    closed = make_event(status="closed")
    auth = _bearer(role_users["safety_officer"])
    refs = [e["reference"] for e in client.get("/api/safety/queue", **auth).json()]
    assert refs[0] == worst.reference and closed.reference not in refs and len(refs) == 2
    allrefs = client.get("/api/safety/queue?include_closed=true", **auth).json()
    assert len(allrefs) == 3
    assert client.get("/api/safety/queue", **_bearer(role_users["clinician"])).status_code == 403


def test_openapi_lists_the_safety_endpoints(client_for: Any) -> None:
    schema = client_for("cmo").get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/safety/events", "/api/safety/events/{event_id}", "/api/safety/queue"} <= paths
