"""The anonymity guarantee: an anonymous report leaves no trace of its reporter in any row of
any table the report wrote or changed (events, history, access log, sessions ...), nor in the
logs, nor in the answer. Checked by dumping the whole database before and after the report and
searching every new or changed row for the user name, the user's id in user columns and the
client address."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import connection
from safety_helpers import MRN, report_data

from cmo.safety.models import Event
from cmo.web.models import AccessLog

pytestmark = pytest.mark.django_db
IP = "10.77.66.55"


def _dump() -> dict[str, set[str]]:
    """Every row of every table, as text."""
    out: dict[str, set[str]] = {}
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            out[table] = {repr(row) for row in cur.fetchall()}
    return out


def _new_rows(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        t: rows - before.get(t, set()) for t, rows in after.items() if rows - before.get(t, set())
    }


def _assert_no_trace(new: dict[str, set[str]], user: Any, logs: str) -> None:
    text = "\n".join(f"{t}: {r}" for t, rows in new.items() for r in rows)
    for secret in (user.username, IP, user.email or "@@none@@"):
        assert secret not in text, f"{secret!r} found in new rows:\n{text}"
        assert secret not in logs, f"{secret!r} found in the logs"
    # No user column of any new row points at the reporter.
    event = Event.objects.get()
    assert event.reporter_id is None and event.anonymous
    assert list(event.history.values_list("history_user_id", flat=True)) == [None]
    log = AccessLog.objects.get()
    assert (log.user_id, log.username, log.ip) == (None, "anonymous", None)
    assert log.patient_ids == ["P1"]  # the lookup itself is still on record


@pytest.mark.parametrize("history_middleware", [False, True])
def test_anonymous_report_on_the_page_leaves_no_trace(
    history_middleware: bool,
    settings: Any,
    client_for: Any,
    role_users: dict[str, Any],
    directory: dict[str, Any],
    safety_warehouse: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if history_middleware:  # simple-history's request middleware must not add the reporter
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE,
            "simple_history.middleware.HistoryRequestMiddleware",
        ]
    user = role_users["clinician"]
    user.email = "nurse.jones@example.org"
    user.save()
    client = client_for("clinician")
    client.get("/safety/", REMOTE_ADDR=IP)  # the form page itself
    before = _dump()
    caplog.set_level(logging.DEBUG)
    data = report_data(
        directory, anonymous="on", lookup_value=MRN, practitioners=[directory["pr1"].pk]
    )
    r = client.post("/safety/", data, REMOTE_ADDR=IP, follow=True)
    assert r.redirect_chain == [("/safety/thanks/", 302)]
    assert "SE-" not in r.content.decode()  # no reference that could be tied to the session
    new = _new_rows(before, _dump())
    assert "safety__event" in new and "web_accesslog" in new  # the dump sees the writes
    out, err = capfd.readouterr()
    _assert_no_trace(new, user, caplog.text + out + err)
    # It is not among the reporter's reports either.
    assert "SE-" not in client.get("/safety/mine/").content.decode()


def test_anonymous_report_through_the_api_leaves_no_trace(
    client: Any,
    role_users: dict[str, Any],
    directory: dict[str, Any],
    safety_warehouse: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cmo.web.models import ApiToken

    user = role_users["clinician"]
    _token, raw = ApiToken.issue(user, name="ehr-button")
    ApiToken.objects.update(last_used=None)
    payload = {
        "event_type": "fall",
        "category": "near_miss",
        "occurred_at": "2026-01-05T10:30:00Z",
        "unit": "U-ICU",
        "mrn": MRN,
        "description": "Wet floor near bed 3, no fall.",
        "anonymous": True,
    }
    before = _dump()
    caplog.set_level(logging.DEBUG)
    r = client.post(
        "/api/safety/events",
        payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        REMOTE_ADDR=IP,
    )
    assert r.status_code == 200, r.content
    assert r.json() == {"received": True}
    new = _new_rows(before, _dump())
    # The token's last-use stamp is about the token, not the report; drop that one row.
    new.pop("web_apitoken", None)
    out, err = capfd.readouterr()
    _assert_no_trace(new, user, caplog.text + out + err)


def test_a_named_report_does_keep_its_reporter(
    client_for: Any, role_users: dict[str, Any], directory: dict[str, Any], safety_warehouse: Any
) -> None:
    """The check above can fail: the same dump finds the reporter of a named report."""
    client = client_for("clinician")
    before = _dump()
    client.post("/safety/", report_data(directory, lookup_value=MRN), REMOTE_ADDR=IP)
    assert Event.objects.get().reporter == role_users["clinician"]
    text = repr(_new_rows(before, _dump()))
    assert "t_clinician" in text and IP in text  # the access log row of the lookup
