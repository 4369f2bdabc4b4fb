"""Issue 14 in headless Chromium on a real demo build: the CMO's morning path (dashboard ->
a practitioner's signal -> the practitioner's page -> the stays behind one number) and the
department chair's (their department's page -> one of its practitioners -> the stays). Every
navigation is awaited (wait_for_url / expect) before the page is read (docs: COMMON.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _user(name: str, role: str, departments: list[str] | None = None) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.set([Group.objects.get(name=role)])
    if departments:
        from cmo.directory.scope import source

        source.assign(user, departments)
    return user


def _login(page: Any, base: str, name: str, landing: str) -> None:
    page.goto(f"{base}/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{landing}")


def _drill_from_first_row(page: Any) -> tuple[str, int]:
    """Click the first "Stays" link of the unit page; return (measure id, the row's cases)."""
    from playwright.sync_api import expect

    row = page.locator("tr[data-measure]", has=page.locator("a.stays")).first
    expect(row).to_be_visible()
    measure = str(row.get_attribute("data-measure"))
    cases = int(row.locator("td").first.inner_text().replace(",", ""))
    row.locator("a.stays").click()
    page.wait_for_url(re.compile(rf".*/quality/measure/{measure}/patients/\?.*"))
    expect(page.locator("#counted")).to_be_visible()
    return measure, cases


def test_cmo_goes_from_a_signal_to_the_practitioner_and_the_stays(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    from playwright.sync_api import expect

    from cmo.web.models import AccessLog

    _user("dr_cmo", "cmo")
    base = live_server.url
    _login(page, base, "dr_cmo", "/quality/")
    expect(page.locator("#attention-h")).to_be_visible()
    link = page.locator('.attention a.unit-link[href^="/quality/practitioners/"]').first
    expect(link).to_be_visible()
    name = link.inner_text().strip()
    pid = re.search(r"/practitioners/([^/]+)/", str(link.get_attribute("href"))).group(1)  # type: ignore[union-attr]
    link.click()
    page.wait_for_url(re.compile(rf".*/quality/practitioners/{re.escape(pid)}/.*"))
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator("text=Attributed to").first).to_be_visible()
    # The signal the CMO followed is listed on the page, with its measure.
    expect(page.locator("#sig-h .count")).not_to_have_text("0")
    expect(page.locator(".spark-inline svg").first).to_be_visible()

    measure, cases = _drill_from_first_row(page)
    counted = int(page.locator("#counted").inner_text())
    if cases < 500:  # the drill-down reads at most 500 stays
        assert counted == cases
    assert page.locator("table#patients tbody th").count() == counted
    assert page.errors == [], page.errors

    entry = AccessLog.objects.get(event="view")
    assert entry.username == "dr_cmo" and entry.filters["unit_id"] == pid
    assert entry.filters["measure_id"] == measure and entry.n_patients > 0


def test_chair_starts_on_their_department_and_reaches_a_practitioners_stays(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    from playwright.sync_api import expect

    from demo_warehouse import CHAIR_DEPARTMENTS

    _user("chair_1", "department_chair", CHAIR_DEPARTMENTS)
    base = live_server.url
    _login(page, base, "chair_1", "/quality/my-department/")
    expect(page.locator("h1")).to_contain_text("Cardiology")
    first = page.locator("#department-practitioners a").first
    expect(first).to_be_visible()
    name = first.inner_text().strip()
    first.click()
    page.wait_for_url(re.compile(r".*/quality/practitioners/[^/]+/.*"))
    expect(page.locator("h1")).to_have_text(name)

    _measure, _cases = _drill_from_first_row(page)
    expect(page.locator("table#patients tbody tr").first).to_be_visible()
    departments = page.locator("table#patients tbody td:nth-of-type(11)").all_inner_texts()
    assert departments and all("Cardiology" in d for d in departments), departments[:3]
    assert page.errors == [], page.errors


def test_cmo_reads_a_cusum_alarm_on_its_chart_picks_rolling_24_and_sees_mrns(
    page: Any, live_server: Any, e2e_measures: list[dict[str, Any]]
) -> None:
    """Dashboard -> a CUSUM alarm -> its site's CUSUM chart (drawn, limits and their false-alarm
    rate stated) -> the rolling 24 months in the period choice -> the stays behind a row, with
    their MRNs."""
    from playwright.sync_api import expect

    from cmo.web.models import AccessLog

    _user("dr_cmo2", "cmo")
    base = live_server.url
    _login(page, base, "dr_cmo2", "/quality/")
    link = page.locator(".attention a.cusum-link").first
    expect(link).to_be_visible()
    href = str(link.get_attribute("href"))
    site = re.search(r"site=([^&#]+)", href).group(1)  # type: ignore[union-attr]
    measure = re.search(r"/measure/([^/]+)/", href).group(1)  # type: ignore[union-attr]
    link.click()
    page.wait_for_url(re.compile(rf".*/quality/measure/{measure}/\?site={site}#cusum"))
    chart = page.locator(f"#cusum-chart-{site}")
    expect(chart.locator("svg")).to_be_visible()
    # The red alarm marks are drawn (Vega's SVG symbols); the caption states what h is set for.
    expect(chart.locator("path[fill='#C8102E']").first).to_be_attached()
    expect(page.locator("#cusum figcaption").first).to_contain_text("one false alarm in")

    page.locator("#period").select_option("rolling24")
    page.get_by_role("form", name="Choose the period").get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*period=rolling24.*"))
    expect(page.locator("#tbl-h")).to_contain_text("rolling 24 months")
    patients = page.locator("#levels a[href*='/patients/']").first
    expect(patients).to_be_visible()
    patients.click()
    page.wait_for_url(re.compile(rf".*/quality/measure/{measure}/patients/\?.*rolling24.*"))
    expect(page.locator("table#patients thead")).to_contain_text("MRN")
    mrn = page.locator("table#patients tbody td.mrn").first
    expect(mrn).to_have_text(re.compile(r"^MRN\d{8}$"))
    assert page.errors == [], page.errors
    entry = AccessLog.objects.get(event="view")
    assert entry.filters["period_type"] == "rolling24" and entry.n_patients > 0
