"""A person's path through the app in headless Chromium, on a real demo build (cmo demo
generate -> ingest -> measures run): log in, read the tiles, open a measure, see the charts
drawn (SVG), drill down to patients, find the visit in the access log.

Set CMO_SCREENSHOTS=DIR to also save the dashboard and measure page as PNGs (docs/img/).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _user(name: str, role: str) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.set([Group.objects.get(name=role)])
    return user


def _login(page: Any, base: str, name: str, landing: str = "/quality/") -> None:
    page.goto(f"{base}/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{landing}")


def _shot(page: Any, name: str) -> None:
    out = os.environ.get("CMO_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=True)


def test_cmo_path_from_login_to_access_log(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    from cmo.web.models import AccessLog

    _user("dr_cmo", "cmo")
    base = live_server.url
    _login(page, base, "dr_cmo")

    n = len(e2e_measures)
    assert page.locator("article.tile").count() == n
    # Every tile's chart drawn (a locator wait: a string predicate is eval, which the CSP blocks).
    expect(page.locator(".tile .chart svg")).to_have_count(page.locator(".tile .chart").count())
    assert "Needs attention" in page.content()
    assert page.locator("#data-as-of").inner_text().startswith("data as of ")
    _shot(page, "dashboard.png")

    # A risk-adjusted rate with a practitioner funnel in the build has every section: control
    # chart, funnel, model card.
    from cmo.quality import reads

    m = next(
        x
        for x in e2e_measures
        if x["risk_adjusted"] and x["kind"] == "proportion" and reads.funnel(x["measure_id"])
    )
    page.locator("article.tile h3 a", has_text=m["title"]).click()
    page.wait_for_url(f"{base}/quality/measure/{m['measure_id']}/")
    for chart in ("#control-chart", "#funnel-chart", "#calibration-chart"):
        page.wait_for_selector(f"{chart} svg")
    # The control chart really drew its points: one per month of data.
    months = page.locator("#control-data tbody tr").count()
    assert months >= 12
    assert page.locator("#control-chart svg .mark-symbol path").count() >= months
    _shot(page, "measure.png")

    page.locator('#levels a[aria-label^="Patients"]').first.click()
    page.wait_for_url(re.compile(r".*/patients/\?.*"))
    page.wait_for_selector("table#patients tbody tr")
    shown = page.locator("table#patients tbody th").all_inner_texts()
    assert shown and all(s.strip() for s in shown)
    # Each stay's admission date and coded principal diagnosis with its display (issue 6 §2);
    # MRN, age and sex (issue 14) come before them.
    admitted = page.locator("table#patients tbody td:nth-of-type(5)").all_inner_texts()
    assert len(admitted) == len(shown) and all(len(a) == 10 and a[4] == "-" for a in admitted)
    principal = page.locator("table#patients tbody td:nth-of-type(9)").all_inner_texts()
    assert all(re.fullmatch(r"[A-Z]\d\d(\.\w+)? \S.*", d) for d in principal), principal[:3]

    page.get_by_role("link", name="Access log").click()
    page.wait_for_url(f"{base}/access-log/")
    log = page.locator("table#access-log").inner_text()
    assert "dr_cmo" in log and f"measure_id={m['measure_id']}" in log
    assert page.errors == [], page.errors  # no CSP violation, no script error

    entry = AccessLog.objects.get(event="view")
    assert entry.username == "dr_cmo" and set(shown) <= set(entry.patient_ids)
    assert AccessLog.objects.filter(event="audit", username="dr_cmo").exists()


def test_board_member_sees_tiles_but_not_patients(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    _user("board_1", "board_member")
    base = live_server.url
    _login(page, base, "board_1", "/board/")  # the board member lands on the board report
    page.goto(f"{base}/quality/")
    assert page.locator("article.tile").count() == len(e2e_measures)
    mid = e2e_measures[0]["measure_id"]
    response = page.goto(f"{base}/quality/measure/{mid}/patients/")
    assert response.status == 403
    assert "Not allowed" in page.content()


def test_keyboard_reaches_skip_link_and_filter(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    _user("kb", "clinician")
    base = live_server.url
    _login(page, base, "kb")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.focus("#site")
    page.keyboard.press("ArrowDown")  # the first site
    site = page.evaluate("document.querySelector('#site').value")
    assert site
    page.get_by_role("button", name="Apply").press("Enter")
    page.wait_for_url(f"{base}/quality/?site={site}")
    assert page.locator("article.tile").count() == len(e2e_measures)
