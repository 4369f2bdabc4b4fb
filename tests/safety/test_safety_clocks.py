"""Serious-event clocks: 72 hours to the RCA² team, 45 business days to the analysis and action
plan, across weekends and the holiday calendar; overdue flags in the queue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmo.safety import clocks
from cmo.safety.models import Event, Holiday, Investigation

FRI = date(2024, 11, 22)


@pytest.mark.parametrize(
    ("start", "days", "holidays", "expected"),
    [
        (FRI, 1, [], date(2024, 11, 25)),  # Friday + 1 -> Monday
        (date(2024, 11, 23), 1, [], date(2024, 11, 25)),  # Saturday + 1 -> Monday
        (FRI, 5, [], date(2024, 11, 29)),
        # Thanksgiving and the day after: Wednesday + 1 -> next Monday.
        (date(2024, 11, 27), 1, [date(2024, 11, 28), date(2024, 11, 29)], date(2024, 12, 2)),
        # 45 business days from Monday 3 June 2024: 9 weeks -> Monday 5 August ...
        (date(2024, 6, 3), 45, [], date(2024, 8, 5)),
        # ... two days later with Juneteenth and Independence Day off.
        (date(2024, 6, 3), 45, [date(2024, 6, 19), date(2024, 7, 4)], date(2024, 8, 7)),
        # A holiday on a Saturday changes nothing.
        (date(2024, 6, 3), 45, [date(2024, 6, 22)], date(2024, 8, 5)),
    ],
)
def test_business_days(start: date, days: int, holidays: list[date], expected: date) -> None:
    assert clocks.add_business_days(start, days, holidays) == expected


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    days=st.integers(min_value=1, max_value=80),
    offsets=st.lists(st.integers(min_value=0, max_value=150), max_size=12),
)
def test_business_days_agree_with_numpy(start: date, days: int, offsets: list[int]) -> None:
    """numpy's business-day calendar is the independent oracle (roll past the start day)."""
    hol = [start + timedelta(days=o) for o in offsets]
    oracle = np.busday_offset(
        np.datetime64(start), days, roll="backward", holidays=[np.datetime64(h) for h in hol]
    )
    # numpy counts from the start rolled back to a business day; ours from the start itself.
    ours = clocks.add_business_days(start, days, hol)
    assert ours == oracle.astype(date)


@pytest.mark.django_db
def test_classification_starts_both_clocks_from_the_calendar(make_event: Any) -> None:
    Holiday.objects.create(date=date(2024, 7, 4), name="Independence Day")
    Holiday.objects.create(date=date(2024, 6, 19), name="Juneteenth")
    e = make_event()
    aware = datetime(2024, 6, 3, 16, 0, tzinfo=UTC)  # a Monday afternoon
    clocks.start_clocks(e, aware)
    assert e.team_due == datetime(2024, 6, 6, 16, 0, tzinfo=UTC)  # 72 hours
    assert e.analysis_due == date(2024, 8, 7)


@pytest.mark.django_db
def test_fill_holidays_from_the_holidays_package() -> None:
    added = clocks.fill_holidays([2024])
    assert added >= 10
    assert Holiday.objects.filter(date=date(2024, 7, 4)).exists()
    assert clocks.fill_holidays([2024]) == 0  # idempotent


@pytest.mark.django_db
def test_overdue_flags(make_event: Any) -> None:
    e = make_event(sentinel=True)
    clocks.start_clocks(e, datetime(2024, 6, 3, 16, 0, tzinfo=UTC))
    e.save()
    before = clocks.clock_state(e, datetime(2024, 6, 6, 15, 0, tzinfo=UTC))
    assert before["running"] and not before["team_overdue"] and not before["analysis_overdue"]
    late = clocks.clock_state(e, datetime(2024, 6, 6, 17, 0, tzinfo=UTC))
    assert late["team_overdue"] and not late["analysis_overdue"]
    very_late = clocks.clock_state(e, datetime(2024, 8, 6, 9, 0, tzinfo=UTC))
    assert very_late["analysis_overdue"]
    Investigation.objects.create(event=e, team="A – lead", team_formed_at=datetime.now(UTC))
    e = Event.objects.get(pk=e.pk)
    assert not clocks.clock_state(e, datetime(2024, 6, 6, 17, 0, tzinfo=UTC))["team_overdue"]


@pytest.mark.django_db
def test_triage_classification_starts_clocks_and_the_queue_flags_overdue(
    client_for: Any, make_event: Any
) -> None:
    e = make_event(harm="death", reported_at=datetime(2024, 1, 2, tzinfo=UTC))
    client = client_for("safety_officer")
    r = client.post(f"/safety/event/{e.pk}/triage/", {"op": "classify", "sentinel": "on"})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.sentinel and e.classified_at and e.team_due and e.analysis_due
    assert e.status == "triaged"
    # Reclassifying does not restart the clocks.
    first = e.team_due
    client.post(
        f"/safety/event/{e.pk}/triage/", {"op": "classify", "sentinel": "on", "sre": "care"}
    )
    e.refresh_from_db()
    assert e.team_due == first and e.sre == "care"
    # Put the clock in the past: the queue flags it.
    Event.objects.filter(pk=e.pk).update(
        team_due=datetime(2024, 1, 5, tzinfo=UTC), analysis_due=date(2024, 3, 1)
    )
    page = client.get("/safety/queue/").content.decode()
    assert "Team overdue" in page and "Plan overdue" in page
