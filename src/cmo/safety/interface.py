"""What other domains read from (and hand to) safety. The review domain reads the referrals and
the practitioners involved in sentinel events here, and hands the system issues its committee
finds back as events for triage, so the safety tables can change behind these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class ReferralForReview:
    """A peer-review referral with the event attached (patient safety work product)."""

    referral_id: int
    created_at: datetime
    practitioner_code: str | None  # directory Practitioner.code
    concern: str
    event_reference: str
    event_type: str
    harm: str
    occurred_at: datetime
    description: str
    patient_id: str
    stay_id: str


def referrals_for_review(*, pending_only: bool = True) -> list[ReferralForReview]:
    """Referrals the review committee has not received yet (or all), oldest first."""
    from cmo.safety.models import Referral

    qs = Referral.objects.select_related("event", "practitioner").order_by("created_at")
    if pending_only:
        qs = qs.filter(received_at__isnull=True)
    return [
        ReferralForReview(
            referral_id=r.pk,
            created_at=r.created_at,
            practitioner_code=r.practitioner.code if r.practitioner else None,
            concern=r.concern,
            event_reference=r.event.reference,
            event_type=r.event.event_type,
            harm=r.event.harm,
            occurred_at=r.event.occurred_at,
            description=r.event.description,
            patient_id=r.event.patient_id,
            stay_id=r.event.stay_id,
        )
        for r in qs
    ]


def mark_received(referral_id: int) -> None:
    """The review module acknowledges a referral (it leaves ``referrals_for_review()``)."""
    from django.utils import timezone

    from cmo.safety.models import Referral

    Referral.objects.filter(pk=referral_id, received_at__isnull=True).update(
        received_at=timezone.now()
    )


@dataclass(frozen=True)
class SentinelInvolvement:
    """A practitioner named on a Joint Commission sentinel event (an FPPE trigger, TJC
    MS.08.01.01: the organisation decides; the review domain only proposes)."""

    event_reference: str
    practitioner_code: str
    event_type: str
    harm: str
    occurred_at: datetime
    classified_at: datetime | None


def sentinel_involvements() -> list[SentinelInvolvement]:
    """Every (sentinel event, involved practitioner) pair, oldest event first; merged
    duplicates left out (their practitioners were added to the surviving report)."""
    from cmo.safety.models import Event, Status

    events = (
        Event.objects.filter(sentinel=True)
        .exclude(status=Status.MERGED)
        .prefetch_related("practitioners")
        .order_by("occurred_at", "pk")
    )
    return [
        SentinelInvolvement(
            e.reference, p.code, e.event_type, e.harm, e.occurred_at, e.classified_at
        )
        for e in events
        for p in e.practitioners.all()
    ]


def queue_system_issue(description: str, *, found_by: str, unit_code: str | None = None) -> str:
    """A system issue the peer-review committee found becomes an event in the safety queue
    (source "review", an unsafe condition, no patient or practitioner named: peer review stays
    confidential) for the safety officer to triage into an RCA² or an action; returns its
    reference. ``found_by`` says where it came from (e.g. "peer review case 12")."""
    from django.utils import timezone

    from cmo.directory.models import Unit
    from cmo.safety import models as m

    unit = Unit.objects.filter(code=unit_code).select_related("site").first() if unit_code else None
    now = timezone.now()
    event = m.Event.objects.create(
        source=m.Source.REVIEW,
        reported_at=now,
        occurred_at=now,
        event_type=m.EventType.OTHER,
        category=m.Category.UNSAFE,
        harm=m.Harm.NONE,
        unit=unit,
        site=unit.site if unit else None,
        description=f"System issue from {found_by}: {description}",
    )
    return str(event.reference)


# --------------------------------------------------------------------------- the board report
def board_counts(start: date, end: date) -> dict[str, Any]:
    """Counts for the board's patient-safety section over ``[start, end)``: no identity at all.

    - ``events``: reports (merged duplicates left out) whose event occurred in the window, by
      harm level (AHRQ Common Formats Harm Scale v1.2; "not classified" for near misses and
      unsafe conditions), by event type (Common Formats v2.0 categories) and by category;
    - ``serious``/``sentinel``: NQF serious reportable events or TJC sentinel events that
      occurred in the window, with RCA² timeliness (NPSF RCA², 2015: team within 72 hours,
      analysis and action plan within 45 business days of awareness; ``cmo.safety.clocks``):
      ``team_on_time``, ``plan_on_time``, ``plan_late`` (completed after the due date),
      ``plan_overdue`` (not completed, past due at the window's end), ``plan_open`` (not due);
    - ``actions``: RCA² actions of investigations begun before the window's end and not closed
      (implemented or dropped) before its start, by strength (RCA² action hierarchy) and status;
    - ``reports`` (staff and API reports, not EHR feeds), ``patient_days`` (the registry's
      SAFETY_EVENTS exposure: the NHSN census by unit, summed over the window's months) and
      ``reporting_rate`` per 1,000 patient days (a safety-culture indicator; higher is
      better), None when the build has no patient days.
    The board applies the CMS cell-size rule (counts 1–10 suppressed) to what it shows.
    """
    from collections import Counter
    from datetime import time

    from django.utils import timezone

    from cmo.safety import models as m

    tz = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=tz)
    hi = datetime.combine(end, time.min, tzinfo=tz)
    events = list(
        m.Event.objects.exclude(status=m.Status.MERGED)
        .filter(occurred_at__gte=lo, occurred_at__lt=hi)
        .select_related("investigation")
    )
    harm_labels = dict(m.Harm.choices)
    type_labels = dict(m.EventType.choices)
    cat_labels = dict(m.Category.choices)
    by_harm = Counter(harm_labels.get(e.harm, "Not classified") for e in events)
    by_type = Counter(type_labels.get(e.event_type, e.event_type) for e in events)
    by_category = Counter(cat_labels.get(e.category, e.category) for e in events)
    serious = [e for e in events if e.serious]
    rca = {"team_on_time": 0, "plan_on_time": 0, "plan_late": 0, "plan_overdue": 0, "plan_open": 0}
    for e in serious:
        inv = getattr(e, "investigation", None)
        if inv and inv.team_formed_at and e.team_due and inv.team_formed_at <= e.team_due:
            rca["team_on_time"] += 1
        if e.analysis_due is None:
            continue
        if inv and inv.plan_completed_at:
            on_time = inv.plan_completed_at.date() <= e.analysis_due
            rca["plan_on_time" if on_time else "plan_late"] += 1
        elif e.analysis_due < end:
            rca["plan_overdue"] += 1
        else:
            rca["plan_open"] += 1
    actions = m.Action.objects.filter(investigation__started_at__lt=hi).exclude(
        status__in=[m.ActionStatus.DONE, m.ActionStatus.DROPPED], implemented_on__lt=start
    )
    strength_labels = dict(m.Strength.choices)
    status_labels = dict(m.ActionStatus.choices)
    by_strength = Counter(strength_labels.get(a.strength, a.strength) for a in actions)
    by_status = Counter(status_labels.get(a.status, a.status) for a in actions)
    reports = sum(1 for e in events if e.source != m.Source.EHR)
    days = _patient_days(start, end)
    return {
        "events": len(events),
        "by_harm": {
            label: by_harm.get(label, 0) for label in [*harm_labels.values(), "Not classified"]
        },
        "by_type": {label: by_type.get(label, 0) for label in type_labels.values()},
        "by_category": {label: by_category.get(label, 0) for label in cat_labels.values()},
        "serious": len(serious),
        "sentinel": sum(1 for e in serious if e.sentinel),
        "rca": rca,
        "actions": actions.count(),
        "actions_by_strength": {s: by_strength.get(s, 0) for s in strength_labels.values()},
        "actions_by_status": {s: by_status.get(s, 0) for s in status_labels.values()},
        "actions_open": sum(
            1 for a in actions if a.status in (m.ActionStatus.PLANNED, m.ActionStatus.IN_PROGRESS)
        ),
        "reports": reports,
        "patient_days": days,
        "reporting_rate": 1000 * reports / days if days else None,
    }


def _patient_days(start: date, end: date) -> int:
    """The registry's patient days (SAFETY_EVENTS' monthly exposure at the system) of the
    months in ``[start, end)``; 0 when the build has none."""
    from cmo.quality.interface import NoResults
    from cmo.safety.analytics import patient_days

    try:
        days = patient_days()
    except NoResults:
        return 0
    inside = days[(days["month"] >= start) & (days["month"] < end)]
    return int(inside["patient_days"].sum())
