"""The expirables queue and the holds an expired licence or DEA puts on privileges."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail

from cmo.errors import InputError
from cmo.staff.models import (
    DeaRegistration,
    GrantStatus,
    Licence,
    MalpracticePolicy,
    PrivilegeDefinition,
    PrivilegeGrant,
)
from cmo.staff.services import apply_expiry_holds, decide_hold, expirables

TODAY = date(2026, 6, 1)


def _grants(staff: dict[str, Any], file_key: str) -> tuple[PrivilegeGrant, PrivilegeGrant]:
    core = PrivilegeDefinition.objects.create(department=staff["car"], name="Core cardiology")
    rx = PrivilegeDefinition.objects.create(
        department=staff["car"], name="Conscious sedation", kind="special", requires_dea=True
    )
    f = staff[file_key]
    return (
        PrivilegeGrant.objects.create(file=f, privilege=core, status=GrantStatus.GRANTED),
        PrivilegeGrant.objects.create(file=f, privilege=rx, status=GrantStatus.GRANTED),
    )


def test_queue_buckets_per_practitioner_and_department(staff: dict[str, Any]) -> None:
    d = lambda n: TODAY + timedelta(days=n)  # noqa: E731
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=d(-1))
    Licence.objects.create(file=staff["pr2"], state="TX", number="L2", expires=d(45))
    MalpracticePolicy.objects.create(
        file=staff["pr3"], carrier="MedPro", per_claim_limit=1, aggregate_limit=3,
        start=d(-300), expires=d(80),
    )  # fmt: skip
    Licence.objects.create(file=staff["pr3"], state="TX", number="L3", expires=d(200))
    items = expirables(TODAY, 90)
    assert [(i.practitioner_id, i.kind, i.window) for i in items] == [
        (staff["pr1"].practitioner_id, "licence", "expired"),
        (staff["pr2"].practitioner_id, "licence", "60"),
        (staff["pr3"].practitioner_id, "malpractice", "90"),
    ]
    assert items[0].departments == ("D-CAR",)
    cardiology = expirables(TODAY, 90, departments=["D-CAR"])
    assert {i.practitioner_id for i in cardiology} == {
        staff["pr1"].practitioner_id,
        staff["pr3"].practitioner_id,
    }
    assert len(expirables(TODAY, 30)) == 1


def test_given_an_expired_licence_when_monitored_then_all_privileges_pending_and_mailed(
    staff: dict[str, Any],
) -> None:
    core, rx = _grants(staff, "pr1")
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=TODAY - timedelta(1))
    held = apply_expiry_holds(TODAY)
    assert {g.pk for g in held} == {core.pk, rx.pk}
    core.refresh_from_db()
    assert core.status == GrantStatus.HOLD and "licence TX L1 expired" in core.hold_reason
    assert len(mail.outbox) == 1 and "suspended pending" in mail.outbox[0].subject
    assert apply_expiry_holds(TODAY) == []  # a second run adds no hold and no mail
    assert len(mail.outbox) == 1


def test_given_a_renewed_licence_then_no_hold(staff: dict[str, Any]) -> None:
    core, _ = _grants(staff, "pr1")
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=TODAY - timedelta(1))
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=TODAY.replace(2028))
    assert apply_expiry_holds(TODAY) == []


def test_given_an_expired_dea_then_only_privileges_needing_it_are_held(
    staff: dict[str, Any],
) -> None:
    core, rx = _grants(staff, "pr1")
    DeaRegistration.objects.create(
        file=staff["pr1"], number="AH1234563", state="TX", expires=TODAY - timedelta(1)
    )
    assert [g.pk for g in apply_expiry_holds(TODAY)] == [rx.pk]
    core.refresh_from_db()
    assert core.status == GrantStatus.GRANTED


def test_the_office_confirms_or_releases_a_hold_with_a_reason(
    staff: dict[str, Any], role_users: Any
) -> None:
    core, rx = _grants(staff, "pr1")
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=TODAY - timedelta(1))
    apply_expiry_holds(TODAY)
    office = role_users["medical_staff_office"]
    core.refresh_from_db()
    rx.refresh_from_db()
    with pytest.raises(InputError, match="reason"):
        decide_hold(core, office, confirm=True, reason=" ")
    decide_hold(core, office, confirm=True, reason="licence lapsed, board notified")
    decide_hold(rx, office, confirm=False, reason="renewal verified on the board's site")
    core.refresh_from_db()
    rx.refresh_from_db()
    assert core.status == GrantStatus.SUSPENDED and rx.status == GrantStatus.GRANTED
    last = core.history.first()
    assert last.history_user == office and last.history_change_reason.startswith("licence lapsed")
    with pytest.raises(InputError, match="not pending"):
        decide_hold(core, office, confirm=False, reason="again")


@pytest.mark.django_db(transaction=True)
def test_cli_expiring_json(staff: dict[str, Any], capsys: Any, settings: Any) -> None:
    from cmo.cli import run

    # The console backend (the default) must not mix the mail into the JSON on stdout.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    soon = date.today() + timedelta(days=20)
    Licence.objects.create(file=staff["pr2"], state="CA", number="A123", expires=soon)
    with pytest.raises(SystemExit) as done:
        run(["staff", "expiring", "--days", "30", "--format", "json"])
    assert done.value.code in (0, None)
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["days"] == 30
    assert "expiring within 30 days" in captured.err and "CA MD licence A123" in captured.err
    assert [(i["kind"], i["window"], i["expires"]) for i in out["items"]] == [
        ("licence", "30", soon.isoformat())
    ]
