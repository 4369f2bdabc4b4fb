"""In headless Chromium on a phone-sized screen: a clinician reports a fall in well under a
minute, the safety officer triages and closes it with a message, the clinician reads it.

Set CMO_SCREENSHOTS=DIR to also save the pages as PNGs. (Here, not in tests/safety: one
Playwright session per process, the e2e ``browser`` fixture.)"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
BUDGET_SECONDS = 60


def _sample():  # type: ignore[no-untyped-def]
    """tests/safety/safety_sample.py (test data, not shipped in src), loaded by path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "safety" / "safety_sample.py"
    spec = importlib.util.spec_from_file_location("safety_sample", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def directory(transactional_db: Any) -> dict[str, Any]:
    make_directory = _sample().make_directory

    return make_directory()


@pytest.fixture
def safety_warehouse(tmp_path: Path, settings: Any) -> Path:
    write_safety_warehouse = _sample().write_safety_warehouse

    settings.WAREHOUSE = write_safety_warehouse(tmp_path / "warehouse.duckdb")
    return settings.WAREHOUSE


@pytest.fixture(scope="module")
def registry_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real pipeline with app__safety_event: the safety measures' results and charts."""
    build = _sample().build_registry_warehouse
    path: Path = build(tmp_path_factory.mktemp("registry") / "warehouse.duckdb")
    return path


@pytest.fixture
def registry_warehouse(registry_warehouse_file: Path, settings: Any) -> Path:
    from cmo.web import warehouse

    settings.WAREHOUSE = registry_warehouse_file
    warehouse.clear_cache()
    return registry_warehouse_file


def _user(name: str, role: str) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.set([Group.objects.get(name=role)])
    return user


def _shot(page: Any, name: str) -> None:
    out = os.environ.get("CMO_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=True)


@pytest.fixture
def phone(browser: Any) -> Any:
    """``phone(base, name)`` -> a signed-in page on a phone-sized screen; closed after the
    test, so no browser connection outlives the live server."""
    contexts: list[Any] = []

    def open_session(base: str, name: str) -> Any:
        page = _session(browser, base, name)
        contexts.append(page.context)
        return page

    yield open_session
    for context in contexts:
        context.close()


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
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # signed in: the cookie is set
    return page


def test_report_triage_and_feedback_loop(phone: Any, live_server: Any, directory: Any) -> None:
    from cmo.safety.models import Event

    _user("nurse_kim", "clinician")
    _user("safety_sam", "safety_officer")
    base = live_server.url

    nurse = phone(base, "nurse_kim")
    started = time.monotonic()
    nurse.goto(f"{base}/safety/")
    nurse.get_by_label("Fall").check()
    nurse.get_by_label("Incident (reached the patient)").check()
    nurse.get_by_label("Harm to the patient (AHRQ Harm Scale)").select_option("mild")
    nurse.get_by_label("Where (unit)?").select_option(label="Riverside – ICU")
    nurse.get_by_label("What happened?").fill("Found on the floor beside bed 4; bruised knee.")
    _shot(nurse, "safety-report-phone.png")
    # The send button is reachable on a phone without horizontal scrolling.
    width = nurse.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    nurse.get_by_role("button", name="Send report").click()
    nurse.wait_for_url(f"{base}/safety/mine/")
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_SECONDS, f"reporting took {elapsed:.1f} s"
    event = Event.objects.get()
    assert event.reference in nurse.content() and "New" in nurse.content()

    officer = phone(base, "safety_sam")
    officer.goto(f"{base}/safety/queue/")
    _shot(officer, "safety-queue.png")
    officer.get_by_role("link", name=event.reference).click()
    officer.locator("#route-form").get_by_label("System causes → RCA² / corrective actions").check()
    officer.locator("#route-form").get_by_label("Why this route?").fill("No bed alarm on the unit.")
    officer.locator("#route-form").get_by_role("button", name="Route").click()
    # Wait for the text itself: the load state of the page before the POST may already be "load".
    officer.wait_for_selector("text=Routed: System causes")
    message = "Bed-exit alarms are now standard on the ICU; thank you for reporting."
    officer.locator("#close-form").get_by_label(
        "Closing message to the reporter (what was learnt and done)"
    ).fill(message)
    officer.get_by_role("button", name="Close and tell the reporter").click()
    officer.wait_for_selector("text=Closed; the reporter sees the closing message.")

    nurse.goto(f"{base}/safety/mine/")
    card = nurse.locator(f"#{event.reference}")
    _shot(nurse, "safety-feedback.png")
    assert "Closed" in card.inner_text() and message in card.inner_text()
    assert nurse.errors == [] and officer.errors == []


def test_action_and_analytics_charts_draw(
    phone: Any, live_server: Any, directory: Any, registry_warehouse: Any
) -> None:
    """The did-it-work chart (with its phase line) and the u-charts render under the CSP."""
    from datetime import UTC, date, datetime

    from cmo.safety.models import Action, Event, Investigation

    for month in range(1, 13):
        for k in range(3 if month < 7 else 1):
            when = datetime(2024, month, 3 + k, 9, tzinfo=UTC)
            Event.objects.create(
                reported_at=when,
                occurred_at=when,
                event_type="fall",
                category="incident",
                harm="mild",
                unit=directory["icu"],
                site=directory["site"],
                description="Fall.",
            )
    inv = Investigation.objects.create(event=Event.objects.first())
    action = Action.objects.create(
        investigation=inv,
        description="Bed-exit alarms",
        kind="forcing",
        owner="CNO",
        due=date(2024, 7, 1),
        status="done",
        implemented_on=date(2024, 7, 1),
        measure_kind="safety",
        measure_id="fall",
        unit=directory["icu"],
    )
    _user("safety_sam", "safety_officer")
    officer = phone(live_server.url, "safety_sam")
    officer.goto(f"{live_server.url}/safety/action/{action.pk}/")
    officer.wait_for_selector("#effect-chart svg")
    assert "after the action" in officer.locator("#verdict").inner_text()
    _shot(officer, "safety-action.png")
    officer.goto(f"{live_server.url}/safety/analytics/?by=unit")
    officer.wait_for_selector(".chart svg")
    assert "per 1,000 patient days" in officer.locator("#summary").inner_text()
    assert officer.errors == []
