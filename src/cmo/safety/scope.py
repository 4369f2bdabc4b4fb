"""Who sees which events: safety officer and CMO all; chairs their departments'; reporters
their own (never an anonymous one: nothing ties it to them). Event data is patient safety work
product; every view of it is access-logged by the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet

from cmo.safety.apps import DEPARTMENT, REFERRALS, REPORT, TRIAGE
from cmo.safety.models import Event
from cmo.web.scope import scope_of


def can(user: Any, capability: str) -> bool:
    return bool(user.is_authenticated and user.has_perm(f"safety.{capability}"))


def sees_all(user: Any) -> bool:
    return can(user, TRIAGE)


def reads_referrals(user: Any) -> bool:
    return can(user, REFERRALS)


def department_scope(user: Any) -> list[str] | None:
    """Department codes a chair sees; None when the user has no department view."""
    if not can(user, DEPARTMENT):
        return None
    return scope_of(user).departments or []


def visible_events(user: Any) -> QuerySet[Event]:
    """Every event this user may open."""
    events = Event.objects.all()
    if sees_all(user):
        return events
    rule = Q(pk__in=[])
    if can(user, REPORT):
        rule |= Q(reporter=user, anonymous=False)
    scope = department_scope(user)
    if scope is not None:
        rule |= Q(department__code__in=scope)
    return events.filter(rule)


def queue_events(user: Any) -> QuerySet[Event] | None:
    """The queue this user may read (all, or a chair's departments), None if no queue."""
    if sees_all(user):
        return Event.objects.all()
    scope = department_scope(user)
    if scope is None:
        return None
    return Event.objects.filter(department__code__in=scope)


def capability_required(
    capability: str, *alternatives: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """302 to login when signed out, 403 without one of this app's capabilities (the shell's
    decorator, with this app's label)."""
    from cmo.web.access import capability_required as required

    return required(f"safety.{capability}", *(f"safety.{a}" for a in alternatives))
