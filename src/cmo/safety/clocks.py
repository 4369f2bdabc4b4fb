"""Serious-event clocks.

- RCA² team within 72 hours of learning of the event (NPSF RCA², 2015, p. 11).
- Comprehensive systematic analysis and action plan within 45 business days of the event or of
  becoming aware of it (The Joint Commission, Sentinel Event Policy, CAMH chapter SE).

Business days skip Saturdays, Sundays and the days of the holiday calendar (``Holiday``
rows; :func:`fill_holidays` fills them from the ``holidays`` package).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

TEAM_HOURS = 72
ANALYSIS_BUSINESS_DAYS = 45


def add_business_days(start: date, days: int, holidays: Iterable[date]) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself does not count)."""
    off = set(holidays)
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            left -= 1
    return current


def team_due(aware: datetime) -> datetime:
    return aware + timedelta(hours=TEAM_HOURS)


def analysis_due(aware: date, holidays: Iterable[date]) -> date:
    return add_business_days(aware, ANALYSIS_BUSINESS_DAYS, holidays)


def calendar(start: date, end: date) -> list[date]:
    """Holiday dates between start and end from the app's calendar table."""
    from cmo.safety.models import Holiday

    return list(
        Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True)
    )


def start_clocks(event, aware: datetime) -> None:  # type: ignore[no-untyped-def]
    """Set the event's clocks from the moment the organisation classified it as serious."""
    event.classified_at = aware
    event.team_due = team_due(aware)
    day = aware.date()
    # 45 business days fit in 75 calendar days plus one per holiday; 120 is ample.
    event.analysis_due = analysis_due(day, calendar(day, day + timedelta(days=120)))


def fill_holidays(years: Iterable[int], country: str = "US") -> int:
    """Add the public holidays of ``country`` (the ``holidays`` package) to the calendar;
    returns the number added. Edit the table (admin) for the organisation's own days off."""
    import holidays as hol

    from cmo.safety.models import Holiday

    added = 0
    for day, name in sorted(hol.country_holidays(country, years=list(years)).items()):
        _, created = Holiday.objects.get_or_create(date=day, defaults={"name": name[:100]})
        added += created
    return added


def clock_state(event, now: datetime) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Which clocks run and which are overdue: team (72 h) and analysis (45 business days)."""
    if not event.classified_at:
        return {"running": False}
    inv = getattr(event, "investigation", None)
    team_done = bool(inv and inv.team_formed_at)
    plan_done = bool(inv and inv.plan_completed_at)
    return {
        "running": True,
        "team_due": event.team_due,
        "team_done": team_done,
        "team_overdue": not team_done and now > event.team_due,
        "analysis_due": event.analysis_due,
        "plan_done": plan_done,
        "analysis_overdue": not plan_done and now.date() > event.analysis_due,
    }
