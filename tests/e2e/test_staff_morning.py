"""The medical staff office's morning in headless Chromium, on the demo build seeded by the
staff demo: the expiring queue -> the practitioner's file -> a verification recorded with its
document -> the view in the access log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _shot(page: Any, name: str) -> None:
    """CMO_SCREENSHOTS=DIR saves the pages as PNGs (for docs and a look at the layout)."""
    out = os.environ.get("CMO_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=True)


def test_office_morning(page: Any, live_server: Any, e2e_warehouse: Any, settings: Any) -> None:
    from django.contrib.auth.models import Group, User

    from cmo.staff.demo import seed
    from cmo.staff.models import Verification
    from cmo.web.models import AccessLog

    settings.WAREHOUSE = e2e_warehouse
    seed(e2e_warehouse, echo=None)
    user = User.objects.create_user("mso", password=PASSWORD)
    user.groups.set([Group.objects.get(name="medical_staff_office")])
    base = live_server.url

    page.goto(f"{base}/accounts/login/?next=/staff/")
    page.get_by_label("User name").fill("mso")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff/")

    queue = page.locator("#expirables")
    expired_row = queue.locator("tr", has=page.locator(".badge.worse")).first
    assert "licence" in expired_row.inner_text()
    assert queue.locator("text=≤ 30 days").count() + queue.locator("text=≤ 60 days").count() >= 1
    assert page.locator("#holds").locator("text=expired").count() >= 1
    _shot(page, "staff-queue.png")
    name = expired_row.locator("a").inner_text()
    expired_row.locator("a").click()

    expect(page.locator("h1")).to_have_text(name)  # waits for the file page, not the queue's h1
    assert page.locator("#privileges").locator("text=Suspended — pending").count() >= 1
    form = page.locator("#verify-form")
    form.get_by_label("Element").select_option("licence")
    form.get_by_label("Source").fill("State medical board web site")
    form.get_by_label("Verified on").fill("2026-12-01")
    form.get_by_label("Method").select_option("online")
    form.get_by_label("Result").select_option("verified")
    form.get_by_label("Document").set_input_files(
        {"name": "board.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    form.get_by_role("button", name="Record verification").click()
    page.wait_for_selector("text=State licence verification recorded.")
    assert page.locator("#verifications").locator("text=State medical board web site").count() == 1

    _shot(page, "staff-file.png")
    v = Verification.objects.get(source="State medical board web site")
    assert v.verifier == user and v.document.name.endswith(".pdf")
    logged = AccessLog.objects.filter(username="mso", filters__has_key="credential_file")
    assert logged.count() >= 2  # the file before and after the verification
    assert page.errors == []
