"""Appointment applications: each step by its role, with a comment and a timestamp."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from cmo.errors import InputError
from cmo.staff import services
from cmo.staff.models import Application, AppState, Transition

PATH = [
    ("medical_staff_office", AppState.VERIFICATION),
    ("medical_staff_office", AppState.CHAIR),
    ("department_chair", AppState.COMMITTEE),
    ("credentials_committee", AppState.MEC),
    ("cmo", AppState.BOARD),
    ("board_member", AppState.LETTER),
    ("medical_staff_office", AppState.CLOSED),
]


@pytest.fixture
def app(staff: dict[str, Any]) -> Application:
    return Application.objects.create(file=staff["pr1"], department=staff["car"], kind="initial")


def test_given_a_new_application_when_each_role_takes_its_step_then_it_closes_with_a_trail(
    app: Application, role_users: dict[str, Any]
) -> None:
    for role, expected in PATH:
        decision = "approved" if app.state == AppState.BOARD else ""
        services.move(app, role_users[role], f"{role} ok", decision=decision)
        assert app.state == expected
    steps = list(Transition.objects.filter(application=app))
    assert [s.role for s in steps] == [r for r, _ in PATH]
    assert all(s.at and s.comment for s in steps)
    assert app.decision == "approved" and app.decided_on == timezone.localdate()
    assert app.letter_sent_on == timezone.localdate()
    assert app.letter_due == app.decided_on + timedelta(days=30)
    assert app.history.count() == 1 + len(PATH)


@pytest.mark.parametrize("role", ["department_chair", "board_member", "cmo", "clinician"])
def test_given_received_when_another_role_moves_it_then_refused(
    app: Application, role_users: dict[str, Any], role: str
) -> None:
    with pytest.raises(PermissionError):
        services.move(app, role_users[role], "trying")
    assert Application.objects.get(pk=app.pk).state == AppState.RECEIVED


def test_given_any_step_when_no_comment_then_refused(
    app: Application, role_users: dict[str, Any]
) -> None:
    with pytest.raises(InputError, match="comment"):
        services.move(app, role_users["medical_staff_office"], "  ")


def test_given_board_step_when_no_decision_then_refused(
    app: Application, role_users: dict[str, Any]
) -> None:
    app.state = AppState.BOARD
    app.save()
    with pytest.raises(InputError, match="decision"):
        services.move(app, role_users["board_member"], "approve")


def test_given_chair_review_when_the_chair_is_of_another_department_then_refused(
    staff: dict[str, Any], role_users: dict[str, Any]
) -> None:
    surgery = Application.objects.create(
        file=staff["pr2"], department=staff["sur"], kind="reappointment", state=AppState.CHAIR
    )
    assert not services.may_move(surgery, role_users["department_chair"])
    with pytest.raises(PermissionError):
        services.move(surgery, role_users["department_chair"], "ok")


def test_clock_flags_overdue_per_state(app: Application) -> None:
    today = timezone.localdate()
    app.state = AppState.CHAIR
    app.state_since = timezone.now() - timedelta(days=15)
    assert services.overdue(app, today)  # target 14 days
    app.state_since = timezone.now() - timedelta(days=14)
    assert not services.overdue(app, today)


def test_cycle_is_at_most_36_months(app: Application) -> None:
    from django.core.exceptions import ValidationError

    assert app.cycle_months == 24
    app.cycle_months = 37
    with pytest.raises(ValidationError):
        app.full_clean()


def test_page_moves_an_application_and_refuses_another_roles_step(
    app: Application, client_for: Any
) -> None:
    office = client_for("medical_staff_office")
    r = office.post(f"/staff/applications/{app.pk}/move/", {"comment": "complete"})
    assert r.status_code == 302
    assert Application.objects.get(pk=app.pk).state == AppState.VERIFICATION
    board = client_for("board_member")
    assert board.post(f"/staff/applications/{app.pk}/move/", {"comment": "x"}).status_code == 403
    html = board.get("/staff/applications/").content.decode()
    assert "Dr Anna Heart" in html and "Verification" in html
    assert f"/staff/file/{app.file_id}/" not in html, "the board sees no file link"
    assert date.today().isoformat()[:4] in html
