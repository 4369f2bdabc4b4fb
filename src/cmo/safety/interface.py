"""What other domains read from (and hand to) safety. The review domain reads the referrals and
the practitioners involved in sentinel events here, and hands the system issues its committee
finds back as events for triage, so the safety tables can change behind these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
