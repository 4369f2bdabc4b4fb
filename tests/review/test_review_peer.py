"""Peer review: intake from safety referrals and deaths with duplicates merged, assembly
from the warehouse, reviewer assignment under the conflict-of-interest rules, scoring, the
committee's decision, clocks (given / when / then)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cmo.errors import InputError
from cmo.review import services
from cmo.review.models import Conflict, PeerCase

pytestmark = pytest.mark.django_db


def _referral(people: dict[str, Any], stay_id: str = "enc-1") -> Any:
    from cmo.safety.models import Event, Referral

    now = timezone.now()
    e = Event.objects.create(
        reported_at=now,
        event_type="medication",
        category="incident",
        harm="moderate",
        occurred_at=now - timedelta(days=2),
        description="Tenfold dose.",
        patient_id="pat-1",
        stay_id=stay_id,
    )
    return Referral.objects.create(event=e, practitioner=people["heart"], concern="Alert override")


def test_safety_referrals_become_cases_and_are_acknowledged(people: dict[str, Any]) -> None:
    """Given a safety event routed to peer review, when the intake runs, then a case exists
    for the practitioner and stay, and the referral leaves the safety module's pending list."""
    from cmo.safety.interface import referrals_for_review

    r = _referral(people)
    (case,) = services.intake_referrals()
    assert case.practitioner == people["heart"] and case.stay_id == "enc-1"
    assert case.source == "safety_event" and "Alert override" in case.concern
    assert case.sources == [f"safety-referral:{r.pk}"]
    assert referrals_for_review() == []
    assert services.intake_referrals() == []


def test_duplicates_are_merged(people: dict[str, Any]) -> None:
    """A second referral about the same practitioner and stay joins the open case; the same
    referral twice is the same case; another stay is another case."""
    _referral(people)
    _referral(people)
    cases = services.intake_referrals()
    assert len({c.pk for c in cases}) == 1
    case = PeerCase.objects.get()
    assert len(case.sources) == 2 and "Also referred" in case.concern
    again = services.open_case(
        people["heart"], source="complaint", key=case.sources[0], concern="same"
    )
    assert again.pk == case.pk
    other = services.open_case(
        people["heart"], source="complaint", key="k", concern="x", stay_id="enc-2"
    )
    assert other.pk != case.pk


def test_merge_by_hand_follows_the_survivor(people: dict[str, Any], role_users: Any) -> None:
    a = services.open_case(people["heart"], source="complaint", key="a", concern="a")
    b = services.open_case(people["heart"], source="complaint", key="b", concern="b")
    services.merge(b, a, role_users["cmo"])
    assert b.status == "merged" and set(a.sources) == {"a", "b"}
    assert services.open_case(None, source="complaint", key="b", concern="again").pk == a.pk
    with pytest.raises(InputError):
        services.merge(a, a, role_users["cmo"])


def test_mortality_review_opens_a_case_per_death(people: Any, warehouse_on: Any) -> None:
    from datetime import date

    from cmo.review.warehouse import deaths

    rows = deaths(date(2023, 1, 1), date(2025, 1, 1))
    assert rows, "the demo build has in-hospital deaths"
    cases = services.intake_deaths(date(2023, 1, 1), date(2025, 1, 1))
    assert len({c.pk for c in cases}) == len({r["stay_id"] for r in rows})
    assert all(c.source == "mortality" for c in cases)
    assert services.intake_deaths(date(2023, 1, 1), date(2025, 1, 1)) == cases  # once per stay


def test_the_case_assembles_itself_from_the_warehouse(warehouse_on: Any) -> None:
    """A death's stay: admission first, the death last, diagnoses with POA, and the measures
    the stay counts in with their expected risk."""
    from datetime import date

    from cmo.review.warehouse import case_record, deaths

    stay = deaths(date(2023, 1, 1), date(2025, 1, 1))[0]["stay_id"]
    rec = case_record(stay)
    assert rec is not None and rec["stay"]["stay_id"] == stay
    assert rec["timeline"][0]["what"] == "Admission"
    assert rec["timeline"][-1]["what"] == "Death in hospital"
    assert any(d["is_principal"] for d in rec["diagnoses"])
    assert {"code", "poa", "display"} <= set(rec["diagnoses"][0])
    imort = [m for m in rec["measures"] if m["measure_id"] == "IMORT"]
    assert imort and imort[0]["outcome"] == 1 and 0 < imort[0]["expected"] < 1
    assert case_record("no-such-stay") is None


# ---------------------------------------------------------------- conflicts of interest


def test_the_practitioner_never_reviews_their_own_case(people: Any, role_users: Any) -> None:
    case = services.open_case(people["heart"], source="complaint", key="c", concern="c")
    with pytest.raises(InputError, match="own case"):
        services.assign(case, people["heart"], role_users["peer_review_committee"])


def test_a_declared_conflict_excludes_the_reviewer(people: Any, role_users: Any) -> None:
    case = services.open_case(people["heart"], source="complaint", key="c", concern="c")
    Conflict.objects.create(
        reviewer=people["knife"], practitioner=people["heart"], reason="practice partners"
    )
    with pytest.raises(InputError, match="declared a conflict"):
        services.assign(case, people["knife"], role_users["peer_review_committee"])
    assert services.assign(case, people["valve"], role_users["peer_review_committee"])


def test_same_department_only_when_configured(people: Any, role_users: Any, settings: Any) -> None:
    case = services.open_case(people["heart"], source="complaint", key="c", concern="c")
    settings.REVIEW_EXCLUDE_SAME_DEPARTMENT = True
    with pytest.raises(InputError, match="same department"):
        services.assign(case, people["valve"], role_users["peer_review_committee"])
    assert services.conflict_reason(case, people["knife"]) is None
    settings.REVIEW_EXCLUDE_SAME_DEPARTMENT = False
    assert services.conflict_reason(case, people["valve"]) is None


# ---------------------------------------------------------------- scoring and decision


def test_scores_move_the_case_to_committee_then_closed(people: Any, role_users: Any) -> None:
    user = role_users["peer_review_committee"]
    case = services.open_case(people["heart"], source="complaint", key="c", concern="c")
    a1 = services.assign(case, people["valve"], user)
    a2 = services.assign(case, people["knife"], user)
    assert case.status == "review"
    services.submit_score(
        a1, user, score=3, attribution="both", competency="patient_care", comment="c"
    )
    case.refresh_from_db()
    assert case.status == "review"  # one reviewer still to score
    with pytest.raises(InputError):
        services.committee_decision(
            case, user, score=3, attribution="both", competency="patient_care", decision="x"
        )
    services.submit_score(
        a2, user, score=2, attribution="system", competency="patient_care", comment="c"
    )
    case.refresh_from_db()
    assert case.status == "committee"
    with pytest.raises(InputError, match="system issue"):
        services.committee_decision(
            case,
            user,
            score=3,
            attribution="both",
            competency="patient_care",
            decision="Education.",
        )
    services.committee_decision(
        case,
        user,
        score=3,
        attribution="both",
        competency="patient_care",
        decision="Education.",
        system_issue="Order set allows the dose.",
    )
    assert case.status == "closed" and case.closed_on == timezone.localdate()


def test_overdue_flags(people: Any) -> None:
    today = timezone.localdate()
    case = services.open_case(
        people["heart"],
        source="complaint",
        key="c",
        concern="c",
        opened_on=today - timedelta(days=50),
    )
    assert services.overdue(case, today) == "committee"
    case.opened_on = today - timedelta(days=95)
    assert services.overdue(case, today) == "closure"
