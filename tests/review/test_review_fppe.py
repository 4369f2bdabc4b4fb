"""FPPE triggers and transitions, OPPE decisions and the board counts (given / when / then),
on the real app database and, for the signal trigger, the real demo build."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from cmo.errors import InputError
from cmo.review import services
from cmo.review.models import Fppe, FppeStatus, OppeProfile, PeerCase, Trigger

pytestmark = pytest.mark.django_db


def _fppe(people: dict[str, Any], **over: Any) -> Fppe:
    values = {
        "practitioner": people["heart"],
        "department": people["car"],
        "trigger": Trigger.SIGNAL,
        "measure_id": "READM30",
        "key": "signal:test",
    }
    values.update(over)
    return Fppe.objects.create(**values)


def _accept(f: Fppe, user: Any) -> Fppe:
    return services.accept_fppe(
        f,
        user,
        method="retrospective",
        cases_required=2,
        duration_days=None,
        reviewers="Dr Valve",
        criteria="Readmission causes documented",
    )


# ---------------------------------------------------------------- triggers


def test_a_new_privilege_starts_an_fppe_once(grant: Any) -> None:
    """Given a privilege newly granted in the staff module, when the triggers run, then an
    active FPPE exists for it, and running again makes no second one."""
    made = services.fppe_for_new_privileges()
    assert len(made) == 1
    f = made[0]
    assert (f.trigger, f.status, f.grant_id) == (Trigger.NEW_PRIVILEGE, "active", grant.pk)
    assert f.evidence["privilege"] == "TAVR"
    assert services.fppe_for_new_privileges() == []


def test_a_satisfactory_fppe_of_a_new_privilege_is_recorded_in_the_staff_file(
    grant: Any, role_users: dict[str, Any]
) -> None:
    """When the FPPE of a new privilege closes satisfactory, the staff grant says so and the
    trigger no longer fires."""
    from cmo.staff.interface import new_privileges_needing_fppe

    f = services.fppe_for_new_privileges()[0]
    services.close_fppe(f, role_users["cmo"], "satisfactory", "Five cases reviewed, all fine.")
    grant.refresh_from_db()
    assert grant.fppe_reason.startswith("FPPE completed") and grant.status == "granted"
    assert new_privileges_needing_fppe() == []


def test_signal_proposals_from_the_demo_build(people: Any, warehouse_on: Any) -> None:
    """Given the demo build, when the triggers run, then exactly the practitioners whose worse
    signals of the last 24 months pass the rule get a proposal (one each), with the evidence,
    and nobody else; running again proposes nothing, nor after a decline. (Which practitioners
    qualify depends on the build's statistics: the browser test checks the planted hospitalist
    on a larger build.)"""
    from cmo.directory.models import Practitioner
    from cmo.review.warehouse import signals

    # The signals of the last 24 months of data (the demo's data end on 2024-12-31).
    rows = [r for r in signals() if r["period_start"] and r["period_start"] >= date(2023, 1, 1)]
    assert any(r["level"] == "practitioner" for r in rows), "the build has practitioner signals"
    qualifying = {str(r["unit_id"]) for r in rows if services.rules.signal_proposes(dict(r))[0]}
    for code in {str(r["unit_id"]) for r in rows if r["level"] == "practitioner"}:
        Practitioner.objects.get_or_create(code=code, defaults={"name": code})
    made = services.propose_from_signals()
    assert sorted(f.practitioner.code for f in made) == sorted(qualifying)
    for f in made:
        assert f.status == "proposed" and f.trigger == Trigger.SIGNAL
        kind = f.evidence["signal"]["kind"]
        assert kind in ("funnel_99_8", "cusum") and f.evidence["signal"]["direction"] == "worse"
        if kind == "funnel_99_8":
            assert f.evidence["funnel_point"]["outlier_99_8"] is True
    # Better-than-expected and 95%-only signals propose nothing.
    others = {str(r["unit_id"]) for r in rows if r["level"] == "practitioner"} - qualifying
    assert not Fppe.objects.filter(practitioner__code__in=others).exists()
    # Run again: nothing new; declined proposals are not proposed again.
    assert services.propose_from_signals() == []
    for f in made:
        services.decline_fppe(f, _cmo(), "Case mix explained by the palliative unit.")
    assert services.propose_from_signals() == []


def _cmo() -> Any:
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(username="fppe_cmo")
    user.groups.add(Group.objects.get(name="cmo"))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_the_q_level_is_a_setting(people: Any, warehouse_on: Any, settings: Any) -> None:
    """With a q level of 0 no funnel signal passes (CUSUM alarms still would)."""
    from cmo.directory.models import Practitioner

    Practitioner.objects.create(code="pr00070", name="Dr LOS")
    settings.REVIEW_Q_LEVEL = 0.0
    made = services.propose_from_signals()
    assert all(f.trigger == Trigger.SIGNAL for f in made)
    from cmo.review.warehouse import signals

    if any("q_value" in r for r in signals(current=True)):  # after the statistics issue
        assert [f for f in made if f.evidence["signal"]["kind"] == "funnel_99_8"] == []


def test_a_major_opportunity_in_peer_review_proposes_an_fppe(
    people: dict[str, Any], role_users: dict[str, Any]
) -> None:
    case = services.open_case(people["heart"], source="complaint", key="c1", concern="Delay")
    a = services.assign(case, people["knife"], role_users["peer_review_committee"])
    services.submit_score(
        a,
        role_users["peer_review_committee"],
        score=4,
        attribution="practitioner",
        competency="patient_care",
        comment="Missed deterioration.",
    )
    services.committee_decision(
        case,
        role_users["peer_review_committee"],
        score=4,
        attribution="practitioner",
        competency="patient_care",
        decision="FPPE recommended.",
    )
    f = Fppe.objects.get(trigger=Trigger.PEER_REVIEW)
    assert f.status == "proposed" and f.practitioner == people["heart"]


def test_a_minor_finding_proposes_nothing(people: dict[str, Any], role_users: Any) -> None:
    case = services.open_case(people["heart"], source="complaint", key="c2", concern="Tone")
    user = role_users["peer_review_committee"]
    a = services.assign(case, people["knife"], user)
    services.submit_score(
        a,
        user,
        score=2,
        attribution="practitioner",
        competency="communication",
        comment="Could have explained better.",
    )
    services.committee_decision(
        case,
        user,
        score=2,
        attribution="practitioner",
        competency="communication",
        decision="Letter of education.",
    )
    assert not Fppe.objects.exists()


# ---------------------------------------------------------------- transitions


def test_proposal_accepted_with_a_plan_then_progress_then_restriction(
    people: dict[str, Any], role_users: dict[str, Any], grant: Any
) -> None:
    """Given a proposal, when the chair accepts it with a plan, records the reviewed cases and
    recommends restriction, then the privilege goes to "suspended — pending" in the staff
    module (the office confirms) and the office is mailed."""
    chair = role_users["department_chair"]
    f = _fppe(people)
    with pytest.raises(InputError, match="number of cases or a duration"):
        services.accept_fppe(
            f,
            chair,
            method="retrospective",
            cases_required=None,
            duration_days=None,
            reviewers="",
            criteria="x",
        )
    _accept(f, chair)
    assert f.status == "active" and f.opened == timezone.localdate()
    services.record_progress(f, chair, 2)
    assert f.cases_reviewed == 2
    mail.outbox = []
    services.close_fppe(f, chair, "restrict", "Readmissions from early discharge confirmed.")
    assert f.status == "closed" and f.outcome == "restrict"
    grant.refresh_from_db()
    assert grant.status == "suspended_pending" and "restrict recommended" in grant.hold_reason
    assert len(mail.outbox) == 1 and "suspended pending" in mail.outbox[0].subject


def test_extend_keeps_the_fppe_active(people: Any, role_users: Any) -> None:
    chair = role_users["department_chair"]
    f = _accept(_fppe(people), chair)
    with pytest.raises(InputError, match="at least one case"):
        services.close_fppe(f, chair, "extend", "More cases", extend_cases=0)
    services.close_fppe(f, chair, "extend", "Two more cases.", extend_cases=2)
    f.refresh_from_db()
    assert (f.status, f.cases_required, f.outcome) == ("active", 4, "extend")


def test_a_declined_proposal_needs_a_reason(people: Any, role_users: Any) -> None:
    f = _fppe(people)
    with pytest.raises(InputError):
        services.decline_fppe(f, role_users["department_chair"], " ")
    services.decline_fppe(f, role_users["department_chair"], "Explained by case mix.")
    assert f.status == "declined"
    with pytest.raises(InputError):
        _accept(f, role_users["department_chair"])


def test_a_chair_decides_only_their_departments_fppe(people: Any, role_users: Any) -> None:
    """The chair of cardiology cannot accept the surgeon's FPPE; the CMO can."""
    f = _fppe(people, practitioner=people["knife"], department=people["sur"], key="k")
    with pytest.raises(PermissionError):
        _accept(f, role_users["department_chair"])
    with pytest.raises(PermissionError):
        _accept(f, role_users["medical_staff_office"])
    _accept(f, role_users["cmo"])
    assert f.status == FppeStatus.ACTIVE


def test_history_keeps_each_transition(people: Any, role_users: Any) -> None:
    chair = role_users["department_chair"]
    f = _accept(_fppe(people), chair)
    services.close_fppe(f, chair, "satisfactory", "Fine.")
    states = [h.status for h in f.history.order_by("history_date")]
    assert states == ["proposed", "active", "closed"]
    assert f.history.first().history_user == chair


# ---------------------------------------------------------------- OPPE


def _profile(people: Any) -> OppeProfile:
    return OppeProfile.objects.create(
        cycle="2024H2",
        practitioner=people["heart"],
        department=people["car"],
        due=date(2025, 3, 2),
        data=[],
    )


def test_oppe_decision_is_signed_and_can_start_an_fppe(people: Any, role_users: Any) -> None:
    chair = role_users["department_chair"]
    pr = _profile(people)
    with pytest.raises(InputError, match="comment"):
        services.decide_oppe(pr, chair, "fppe", "")
    services.decide_oppe(pr, chair, "fppe", "Readmissions above peers.")
    assert pr.decided_by == chair and pr.decided_by_name == "r_department_chair"
    assert pr.decided_at is not None
    f = Fppe.objects.get(practitioner=people["heart"])
    assert (f.trigger, f.status) == (Trigger.OPPE, "proposed")


def test_oppe_referral_to_peer_review_opens_a_case(people: Any, role_users: Any) -> None:
    pr = _profile(people)
    services.decide_oppe(pr, role_users["cmo"], "peer_review", "Two deaths to look at.")
    case = PeerCase.objects.get()
    assert case.source == "oppe" and case.practitioner == people["heart"]


def test_oppe_profiles_from_the_demo_build(people: Any, warehouse_on: Any) -> None:
    """Every active practitioner gets a profile; a practitioner with too few cases shows no
    rate; the hospitalist's LOS carries peers and a shrunken estimate when cases suffice."""
    from cmo.directory.models import Department, Membership, Practitioner

    dept = Department.objects.create(code="org-h3-medicine", name="Lakeview medicine")
    for code in ("pr00070", "pr00061", "pr00008"):
        p = Practitioner.objects.create(code=code, name=code)
        Membership.objects.create(practitioner=p, department=dept)
    Practitioner.objects.create(code="manual-9", name="Dr Applicant")  # no membership yet
    profiles = services.build_oppe("2024")
    assert len(profiles) == 6  # three demo practitioners and the three of the fixture
    assert "manual-9" not in {p.practitioner.code for p in profiles}
    rows = {
        r["measure_id"]: r
        for r in next(p for p in profiles if p.practitioner.code == "pr00070").data
        if r["kind"] == "measure"
    }
    los = rows["LOS"]
    if los["n"] >= 25:
        assert los["shrunk_low"] <= los["shrunk"] <= los["shrunk_high"]
        assert los["peers"] >= 1
    else:
        assert los["grade"] == "too_few" and los["oe"] is None
    heart = next(p for p in profiles if p.practitioner == people["heart"])
    assert all(r["grade"] in ("too_few", "none", "acceptable") for r in heart.data)
    # Rebuilding keeps the decision.
    services.decide_oppe(heart, _cmo(), "continue", "Fine.")
    services.build_oppe("2024")
    heart.refresh_from_db()
    assert heart.decision == "continue"


def test_completion_counts_decisions_on_time(people: Any, role_users: Any) -> None:
    pr = _profile(people)
    OppeProfile.objects.create(
        cycle="2024H2", practitioner=people["valve"], department=people["car"], due=date(2025, 3, 2)
    )
    services.decide_oppe(pr, role_users["cmo"], "continue", "Fine.")
    OppeProfile.objects.filter(pk=pr.pk).update(
        decided_at=timezone.make_aware(timezone.datetime(2025, 2, 1))
    )
    (row,) = services.completion("2024H2")
    assert (row["due"], row["done"], row["on_time"], row["percent"]) == (2, 1, 1, 50)


# ---------------------------------------------------------------- board counts


def test_board_counts_have_the_agreed_keys_and_no_names(people: Any, role_users: Any) -> None:
    from cmo.review.interface import board_counts

    today = timezone.localdate()
    chair = role_users["cmo"]
    f = _accept(_fppe(people), chair)
    services.close_fppe(f, chair, "satisfactory", "Fine.")
    _accept(_fppe(people, key="k2"), chair)
    _fppe(people, key="k3")  # a proposal is not an FPPE yet
    case = services.open_case(people["heart"], source="complaint", key="x", concern="c")
    PeerCase.objects.filter(pk=case.pk).update(opened_on=today - timedelta(days=100))
    pr = _profile(people)
    OppeProfile.objects.filter(pk=pr.pk).update(due=today)
    counts = board_counts(today - timedelta(days=365), today)
    assert set(counts) == {
        "oppe_due",
        "oppe_done_on_time",
        "oppe_completion",
        "fppe_open",
        "fppe_opened",
        "fppe_closed",
        "peer_review_opened",
        "peer_review_closed",
        "peer_review_overdue",
        "peer_review_median_days",
    }
    assert (counts["fppe_open"], counts["fppe_opened"], counts["fppe_closed"]) == (1, 2, 1)
    assert counts["peer_review_overdue"] == 1 and counts["peer_review_median_days"] is None
    assert counts["oppe_completion"] == [{"department": "Cardiology", "due": 1, "done": 0}]
    text = repr(counts)
    assert "Heart" not in text and "P-HEART" not in text
