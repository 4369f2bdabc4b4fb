"""In headless Chromium: the CMO edits the board report's summary and publishes the quarter;
a board member signs in, lands on the published report and downloads its PDF.

Set CMO_SCREENSHOTS=DIR to also save the pages as PNGs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
QUARTER = "2024-Q4"
WAIT_MS = 120_000  # the draft is built from the warehouse on a shared 2-core machine


def _shot(page: Any, name: str) -> None:
    out = os.environ.get("CMO_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=False)


def _sign_in(page: Any, base: str, name: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_publish_then_board_member_downloads_the_pdf(
    page: Any, browser: Any, live_server: Any, e2e_warehouse: Any, settings: Any, tmp_path: Path
) -> None:
    from django.contrib.auth.models import Group, User

    from cmo.board.models import BoardReport
    from cmo.web import warehouse

    settings.WAREHOUSE = e2e_warehouse
    warehouse.clear_cache()
    for name, role in (("cmo1", "cmo"), ("board1", "board_member")):
        user = User.objects.create_user(name, password=PASSWORD)
        user.groups.set([Group.objects.get(name=role)])
    base = live_server.url
    page.set_default_timeout(WAIT_MS)

    _sign_in(page, base, "cmo1", f"/board/draft/%3Fperiod%3D{QUARTER}")
    page.wait_for_url(f"{base}/board/draft/?period={QUARTER}")
    expect(page.locator("#scorecard")).to_be_visible()
    summary = page.locator("#id_summary")
    summary.fill("Quality held steady in the quarter.\nFalls prevention continues.")
    page.get_by_role("button", name="Save summary").click()
    expect(page.locator("[role=status]")).to_contain_text("Summary saved")
    expect(page.locator("#summary .summary")).to_contain_text("Quality held steady")
    page.locator("#publish").click()
    page.wait_for_url(f"{base}/board/reports/*/")
    expect(page.locator("#report-meta")).to_contain_text("(verified)")
    assert BoardReport.objects.filter(period=QUARTER, status="published").count() == 1

    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    board = context.new_page()
    board.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    board.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        _sign_in(board, base, "board1", "/")
        board.wait_for_url(f"{base}/board/")
        expect(board.locator("#board-report h1")).to_contain_text("Q4 2024")
        expect(board.locator("#summary")).to_contain_text("Falls prevention continues.")
        expect(board.locator("#scorecard table").first).to_be_visible()
        _shot(board, "board-page.png")
        with board.expect_download() as info:
            board.locator("#download-pdf").click()
        path = tmp_path / "board.pdf"
        info.value.save_as(path)
        data = path.read_bytes()
        assert data.startswith(b"%PDF")
        assert data == bytes(BoardReport.objects.get(period=QUARTER, status="published").pdf)
        assert errors == []
    finally:
        context.close()
    assert page.errors == []
