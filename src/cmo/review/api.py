"""Review endpoints (/api/review/): FPPEs and OPPE profiles (scoped to a chair's
departments), and the confidential peer-review cases (committee and CMO only). Every call is
access-logged; peer-review answers carry the confidentiality marking."""

from __future__ import annotations

from datetime import date
from typing import Any

from ninja import Router, Schema
from ninja.errors import HttpError

from cmo.review import rules
from cmo.review.apps import PEER_REVIEW, VIEW_FPPE, VIEW_OPPE
from cmo.review.models import Fppe, FppeStatus, OppeProfile, PeerCase
from cmo.review.rules import CONFIDENTIAL
from cmo.web.access import require
from cmo.web.audit import log_access
from cmo.web.scope import scope_of

router = Router(tags=["review"])


class FppeOut(Schema):
    id: int
    practitioner_id: str
    npi: str | None
    trigger: dict[str, str]
    status: str
    proposed: date
    opened: date | None
    method: str
    cases_required: int | None
    cases_reviewed: int
    outcome: str


def fppe_row(f: Fppe) -> dict[str, Any]:
    """One FPPE as the API and ``cmo review fppe --format json`` give it."""
    from django.utils import timezone

    return {
        "id": f.pk,
        "practitioner_id": f.practitioner.code,
        "npi": f.practitioner.npi,
        "trigger": {"kind": f.trigger, "measure": f.measure_id},
        "status": f.status,
        "proposed": timezone.localdate(f.proposed_at),
        "opened": f.opened,
        "method": f.method,
        "cases_required": f.cases_required,
        "cases_reviewed": f.cases_reviewed,
        "outcome": f.outcome,
    }


@router.get("/fppe", response=list[FppeOut])
def list_fppe(request: Any, status: str = "") -> Any:
    """FPPEs the caller may see (a chair: their departments'), newest first."""
    require(request, VIEW_FPPE)
    if status and status not in FppeStatus.values:
        raise HttpError(400, f"status is one of {', '.join(FppeStatus.values)}")
    qs = Fppe.objects.restrict(scope_of(request.user)).select_related("practitioner")
    if status:
        qs = qs.filter(status=status)
    log_access(
        request, filters={"review": "fppe", "status": status or "all"}, patient_ids=(), via="api"
    )
    return [fppe_row(f) for f in qs[:1000]]


class OppeOut(Schema):
    id: int
    cycle: str
    practitioner_id: str
    department: str | None
    due: date
    decision: str
    decided_at: str | None
    indicators: list[dict[str, Any]]


@router.get("/oppe/{cycle}", response=list[OppeOut])
def list_oppe(request: Any, cycle: str) -> Any:
    """The cycle's profiles the caller may see, with their indicators and decisions."""
    require(request, VIEW_OPPE)
    try:
        label = rules.parse_cycle(cycle).label
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    qs = (
        OppeProfile.objects.restrict(scope_of(request.user))
        .filter(cycle=label)
        .select_related("practitioner", "department")
    )
    log_access(request, filters={"review": "oppe", "cycle": label}, patient_ids=(), via="api")
    return [
        {
            "id": p.pk,
            "cycle": p.cycle,
            "practitioner_id": p.practitioner.code,
            "department": p.department.code if p.department else None,
            "due": p.due,
            "decision": p.decision,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None,
            "indicators": p.data,
        }
        for p in qs
    ]


class CaseOut(Schema):
    marking: str
    id: int
    source: str
    status: str
    opened_on: date
    practitioner_id: str | None
    stay_id: str
    score: int | None
    attribution: str
    closed_on: date | None


def _case(c: PeerCase) -> dict[str, Any]:
    return {
        "marking": CONFIDENTIAL,
        "id": c.pk,
        "source": c.source,
        "status": c.status,
        "opened_on": c.opened_on,
        "practitioner_id": None if c.blinded or c.practitioner is None else c.practitioner.code,
        "stay_id": c.stay_id,
        "score": c.score,
        "attribution": c.attribution,
        "closed_on": c.closed_on,
    }


@router.get("/peer/cases", response=list[CaseOut])
def list_cases(request: Any) -> Any:
    """Peer-review cases (confidential: the committee and the CMO only)."""
    require(request, PEER_REVIEW)
    cases = list(PeerCase.objects.select_related("practitioner")[:1000])
    log_access(
        request,
        filters={"review": "peer_cases"},
        via="api",
        patient_ids=[c.patient_id for c in cases if c.patient_id],
    )
    return [_case(c) for c in cases]


@router.get("/peer/cases/{case_id}", response=CaseOut)
def read_case(request: Any, case_id: int) -> Any:
    require(request, PEER_REVIEW)
    c = PeerCase.objects.select_related("practitioner").filter(pk=case_id).first()
    if c is None:
        raise HttpError(404, "no such case")
    log_access(
        request,
        filters={"review": "peer_case", "case": case_id},
        via="api",
        patient_ids=[c.patient_id] if c.patient_id else [],
    )
    return _case(c)
