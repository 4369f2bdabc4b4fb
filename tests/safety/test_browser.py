"""In headless Chromium on a phone-sized screen: a clinician reports a fall in well under a
minute, the safety officer triages and closes it with a message, the clinician reads it."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
BUDGET_SECONDS = 60


def _user(name: str, role: str) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.set([Group.objects.get(name=role)])
    return user


def _session(browser: Any, base: str, name: str) -> Any:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_report_triage_and_feedback_loop(browser: Any, live_server: Any, directory: Any) -> None:
    from cmo.safety.models import Event

    _user("nurse_kim", "clinician")
    _user("safety_sam", "safety_officer")
    base = live_server.url

    nurse = _session(browser, base, "nurse_kim")
    started = time.monotonic()
    nurse.goto(f"{base}/safety/")
    nurse.get_by_label("Fall").check()
    nurse.get_by_label("Incident (reached the patient)").check()
    nurse.get_by_label("Harm to the patient (AHRQ Harm Scale)").select_option("mild")
    nurse.get_by_label("Where (unit)?").select_option(label="Riverside – ICU")
    nurse.get_by_label("What happened?").fill("Found on the floor beside bed 4; bruised knee.")
    # The send button is reachable on a phone without horizontal scrolling.
    width = nurse.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    nurse.get_by_role("button", name="Send report").click()
    nurse.wait_for_url(f"{base}/safety/mine/")
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_SECONDS, f"reporting took {elapsed:.1f} s"
    event = Event.objects.get()
    assert event.reference in nurse.content() and "New" in nurse.content()

    officer = _session(browser, base, "safety_sam")
    officer.goto(f"{base}/safety/queue/")
    officer.get_by_role("link", name=event.reference).click()
    officer.locator("#route-form").get_by_label("System causes → RCA² / corrective actions").check()
    officer.locator("#route-form").get_by_label("Why this route?").fill("No bed alarm on the unit.")
    officer.locator("#route-form").get_by_role("button", name="Route").click()
    officer.wait_for_load_state()
    assert "Routed: System causes" in officer.content()
    message = "Bed-exit alarms are now standard on the ICU; thank you for reporting."
    officer.locator("#close-form").get_by_label(
        "Closing message to the reporter (what was learnt and done)"
    ).fill(message)
    officer.get_by_role("button", name="Close and tell the reporter").click()
    officer.wait_for_load_state()
    assert "Closed; the reporter sees the closing message." in officer.content()

    nurse.goto(f"{base}/safety/mine/")
    card = nurse.locator(f"#{event.reference}")
    assert "Closed" in card.inner_text() and message in card.inner_text()
    assert nurse.errors == [] and officer.errors == []
