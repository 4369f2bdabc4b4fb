"""What other domains read from safety. The peer-review module (a later issue) reads the
referrals here and nowhere else, so the safety tables can change behind this function."""

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
