"""The safety domain's overview tiles (``Domain.tiles``): the queue, the serious-event clocks
and the corrective actions, as counts for the roles that hold the queue; a reporter sees their
own open reports. Counts only: no patient, reporter or practitioner."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from cmo.safety import models as m
from cmo.safety import scope
from cmo.web.registry import Tile

OPEN = ~Q(status__in=[m.Status.CLOSED, m.Status.MERGED])


def tiles(request: HttpRequest) -> list[Tile]:
    user = request.user
    events = scope.queue_events(user)
    if events is None:
        return _reporter_tiles(request)
    now = timezone.now()
    open_events = events.filter(OPEN)
    new = open_events.filter(status=m.Status.NEW).count()
    queue = reverse("safety:queue")
    out = [
        Tile(
            "Open safety events",
            f"{open_events.count():,}",
            f"{new:,} new, not yet triaged",
            queue,
            attention=new > 0,
        )
    ]
    late_team, late_plan = _late_clocks(open_events, now)
    out.append(
        Tile(
            "Serious-event clocks overdue",
            f"{late_team + late_plan:,}",
            f"RCA² team after 72 hours: {late_team}; analysis and plan after 45 business days: "
            f"{late_plan}",
            queue,
            attention=(late_team + late_plan) > 0,
        )
    )
    if scope.sees_all(user):
        actions = m.Action.objects.filter(
            status__in=[m.ActionStatus.PLANNED, m.ActionStatus.IN_PROGRESS]
        )
        late = actions.filter(due__lt=now.date()).count()
        out.append(
            Tile(
                "Corrective actions open",
                f"{actions.count():,}",
                f"{late:,} past their due date",
                queue,
                attention=late > 0,
            )
        )
    return out


def _late_clocks(events: QuerySet[m.Event], now: datetime) -> tuple[int, int]:
    """(team clocks overdue, analysis clocks overdue) of classified serious events: the same
    rule as the queue's flags (``cmo.safety.clocks.clock_state``)."""
    running = events.filter(classified_at__isnull=False)
    team = running.filter(team_due__lt=now).filter(
        Q(investigation__isnull=True) | Q(investigation__team_formed_at__isnull=True)
    )
    plan = running.filter(analysis_due__lt=now.date()).filter(
        Q(investigation__isnull=True) | Q(investigation__plan_completed_at__isnull=True)
    )
    return team.count(), plan.count()


def _reporter_tiles(request: HttpRequest) -> list[Tile]:
    """A reporter's own open reports (the feedback loop); nothing when they have none."""
    mine = m.Event.objects.filter(reporter=request.user, anonymous=False)
    if not mine.exists():
        return []
    open_count = mine.filter(OPEN).count()
    closed = mine.filter(status=m.Status.CLOSED).count()
    return [
        Tile(
            "My safety reports",
            f"{open_count:,} open",
            f"{closed:,} closed with a message to you",
            reverse("safety:mine"),
        )
    ]
