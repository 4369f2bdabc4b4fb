"""The directory in headless Chromium on a real demo build: a department chair follows the
navigation entry the directory registers, sees only their department's practitioners, filters,
and opens one practitioner's memberships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def test_chair_browses_their_departments_practitioners(
    page: Any, live_server: Any, e2e_warehouse: Path, e2e_measures: list[dict[str, Any]]
) -> None:
    from django.contrib.auth.models import Group, User

    from cmo.directory.models import Membership
    from cmo.directory.scope import source
    from cmo.directory.sync import apply
    from cmo.measures.directory import read
    from cmo.warehouse import connect

    wh = connect(e2e_warehouse, read_only=True)
    try:
        rows = read(wh)
    finally:
        wh.close()
    apply(rows)
    department = rows.memberships[0]["department"]
    chair = User.objects.create_user("chair_e2e", password=PASSWORD)
    chair.groups.set([Group.objects.get(name="department_chair")])
    source.assign(chair, [department])
    mine = set(
        Membership.objects.filter(department__code=department).values_list(
            "practitioner__name", flat=True
        )
    )
    assert mine

    base = live_server.url
    page.goto(f"{base}/")
    page.get_by_label("User name").fill("chair_e2e")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/quality/my-department/")  # a chair lands on their department
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Directory").click()
    page.wait_for_url(f"{base}/directory/")
    names = set(page.locator("#practitioners tbody th a").all_inner_texts())
    assert names == mine
    # A filter by a name keeps only that practitioner.
    first = sorted(mine)[0]
    page.get_by_label("Name or NPI").fill(first)
    page.get_by_role("button", name="Filter").click()
    # expect() waits for the filtered page; a bare read could see the page before it loads.
    expect(page.locator("#practitioners tbody th a")).to_have_text([first])
    page.get_by_role("link", name=first).click()
    expect(page.locator("h1")).to_have_text(first)
    assert page.locator("#memberships tbody tr").count() >= 1
    assert page.errors == []
