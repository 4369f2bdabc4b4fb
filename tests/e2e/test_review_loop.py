"""The closed loop in headless Chromium on a seeded demo build: outcome signal → FPPE proposal →
the chair accepts it with a plan → reviewed cases recorded → outcome (restriction) → the
privilege is "suspended — pending" in the staff module → the peer-review committee decides
the case waiting in committee → the counts reach ``cmo.review.interface.board_counts``."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def review_warehouse(e2e_warehouse: Path) -> Path:
    """The shared e2e demo build (tests/demo_warehouse.py, 5,000 patients): the planted
    hospitalist has at least 25 stays a year there (no small cell), so a practitioner signal."""
    return e2e_warehouse


def _planted(warehouse: Path, signal_id: str) -> str:
    """The practitioner id of a planted signal, from the generator's signals.json."""
    import json

    planted = json.loads((warehouse.parent / "demo-export" / "signals.json").read_text())
    return next(str(s["practitioner_id"]) for s in planted["signals"] if s["id"] == signal_id)


def _shot(page: Any, name: str) -> None:
    out = os.environ.get("CMO_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=True)


def _login(page: Any, base: str, user: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{next_url}")


def test_signal_to_privilege_to_board(
    page: Any, live_server: Any, review_warehouse: Path, settings: Any
) -> None:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from cmo.review.demo import seed as review_seed
    from cmo.review.interface import board_counts
    from cmo.review.models import Fppe, PeerCase
    from cmo.safety.demo import seed as safety_seed
    from cmo.staff.demo import seed as staff_seed
    from cmo.staff.interface import privileges_of
    from cmo.web import warehouse
    from cmo.web.models import AccessLog
    from cmo.web.registry import scope_source

    settings.WAREHOUSE = review_warehouse
    warehouse.clear_cache()
    staff_seed(review_warehouse, echo=None)
    safety_seed(review_warehouse)
    review_seed(review_warehouse, echo=None)
    hospitalist = _planted(review_warehouse, "physician-los")
    proposal = Fppe.objects.select_related("practitioner").get(
        status="proposed", trigger="outcome_signal", practitioner__code=hospitalist
    )
    doctor = proposal.practitioner
    assert any(p.status == "granted" for p in privileges_of(doctor.pk))
    in_committee = PeerCase.objects.get(status="committee")

    chair = User.objects.create_user("chair", password=PASSWORD)
    chair.groups.set([Group.objects.get(name="department_chair")])
    scope_source().assign(chair, [proposal.department.code])  # type: ignore[union-attr]
    committee = User.objects.create_user("committee", password=PASSWORD)
    committee.groups.set([Group.objects.get(name="peer_review_committee")])
    base = live_server.url

    # The chair sees the signal on the practitioner's timeline, then the proposal.
    _login(page, base, "chair", f"/review/practitioner/{doctor.code}/")
    expect(page.locator("#timeline")).to_contain_text("LOS funnel_99_8 (worse)")
    expect(page.locator("#timeline")).to_contain_text("Outcome signal LOS: Proposed to the chair")
    page.goto(f"{base}/review/fppe/?status=proposed")
    page.locator("#fppes").get_by_role("link", name=str(doctor)).click()
    page.wait_for_url(f"{base}/review/fppe/{proposal.pk}/")
    expect(page.locator("#evidence-why")).to_contain_text("99.8%")
    _shot(page, "review-fppe-proposal.png")

    form = page.locator("#accept-form")
    form.locator("[name=accept-method]").select_option("retrospective")
    form.locator("[name=accept-cases_required]").fill("2")
    form.locator("[name=accept-reviewers]").fill("Two hospitalists of another site")
    form.locator("[name=accept-criteria]").fill("Discharge readiness documented each day")
    form.get_by_role("button", name="Accept and start the FPPE").click()
    expect(page.locator("#fppe-status")).to_have_text("Active")

    progress = page.locator("#progress-form")
    progress.locator("[name=progress-cases]").fill("2")
    progress.get_by_role("button", name="Record reviewed case(s)").click()
    expect(page.locator("#fppe-progress")).to_contain_text("2 / 2 case(s) reviewed")

    close = page.locator("#close-form")
    close.locator("[name=close-outcome]").select_option("restrict")
    close.locator("[name=close-comment]").fill("Avoidable extra days in both cases reviewed.")
    close.get_by_role("button", name="Record the outcome").click()
    expect(page.locator("#fppe-status")).to_have_text("Closed")
    expect(page.locator("#fppe-outcome")).to_contain_text("Recommend restriction")
    _shot(page, "review-fppe-closed.png")
    held = [p for p in privileges_of(doctor.pk) if p.status == "suspended_pending"]
    assert held, "the restriction reached the staff module's approval states"

    # The chair may not open peer review.
    response = page.goto(f"{base}/review/peer/")
    assert response is not None and response.status == 403
    page.errors.clear()  # the browser logs the 403 it was meant to get

    # The committee decides the case that waits in committee.
    _login(page, base, "committee", "/review/peer/")
    expect(page.locator("#confidential")).to_contain_text("Confidential peer review document")
    page.locator("#cases").get_by_role("link", name=f"Case {in_committee.pk}").click()
    page.wait_for_url(f"{base}/review/peer/{in_committee.pk}/")
    expect(page.locator("#case-status")).to_have_text("In committee")
    decide = page.locator("#committee-form")
    decide.locator("[name=decide-score]").select_option("3")
    decide.locator("[name=decide-attribution]").select_option("both")
    decide.locator("[name=decide-competency]").select_option("patient_care")
    decide.locator("[name=decide-decision]").fill("Focused education; order-set change.")
    decide.locator("[name=decide-system_issue]").fill("Order set allows a tenfold dose.")
    decide.get_by_role("button", name="Record decision and close").click()
    expect(page.locator("#case-status")).to_have_text("Closed")
    _shot(page, "review-case-closed.png")

    today = timezone.localdate()
    counts = board_counts(today - timedelta(days=30), today)
    assert counts["fppe_opened"] >= 1 and counts["fppe_closed"] >= 1
    assert counts["peer_review_closed"] >= 1 and counts["peer_review_median_days"] is not None
    assert hospitalist not in repr(counts) and str(doctor) not in repr(counts)
    assert AccessLog.objects.filter(username="committee", filters__review="peer_case").exists()
    assert page.errors == []
