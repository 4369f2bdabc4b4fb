"""The medical staff office's overview tiles (``Domain.tiles``): expired and expiring
credentials, privileges on hold, applications past their clock and the monthly exclusion
screening, scoped like the office's queue (a chair: their departments)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from cmo.staff import rules, services
from cmo.staff.apps import REVIEW_SCREENING, VIEW_APPLICATIONS, VIEW_FILES
from cmo.staff.models import GrantStatus, PrivilegeGrant, Review, ScreeningMatch, ScreeningRun
from cmo.web.registry import Tile
from cmo.web.scope import scope_of


def tiles(request: HttpRequest) -> list[Tile]:
    user = request.user
    if not user.has_perm(VIEW_FILES):
        return []
    today = timezone.localdate()
    departments = scope_of(user).departments
    items = services.expirables(today, 30, departments)
    expired = sum(i.window == "expired" for i in items)
    holds = PrivilegeGrant.objects.filter(
        status=GrantStatus.HOLD, file__in=services.files_in(departments)
    ).count()
    queue = reverse("staff:queue")
    out = [
        Tile(
            "Expired credentials",
            f"{expired:,}",
            f"{len(items) - expired:,} more expire within 30 days",
            queue,
            attention=expired > 0,
        ),
        Tile(
            "Privileges on hold",
            f"{holds:,}",
            "suspended pending review (an expired licence, DEA or exclusion)",
            queue,
            attention=holds > 0,
        ),
    ]
    if user.has_perm(VIEW_APPLICATIONS):
        active = services.applications_for(user).filter(services.active_q())
        late = sum(services.overdue(a, today) for a in active)
        out.append(
            Tile(
                "Applications in progress",
                f"{active.count():,}",
                f"{late:,} past the clock of their step",
                reverse("staff:applications"),
                attention=late > 0,
            )
        )
    if user.has_perm(REVIEW_SCREENING):
        last = ScreeningRun.objects.filter(ok=True).first()
        days = (today - timezone.localdate(last.started)).days if last else None
        pending = ScreeningMatch.objects.filter(review=Review.PENDING, active=True).count()
        due = days is None or days > rules.MONITOR_DAYS
        out.append(
            Tile(
                "Exclusion screening",
                "never run" if days is None else f"{days} days ago",
                f"{pending:,} possible matches to review; due every {rules.MONITOR_DAYS} days "
                "(42 CFR 455.436)",
                reverse("staff:screening"),
                attention=due or pending > 0,
            )
        )
    return out
