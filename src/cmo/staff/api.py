"""Staff endpoints of the API (``/api/staff/``): credential files, expirables, screening.

Same capabilities as the pages; every read of a credential file is access-logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError

from cmo.staff import services
from cmo.staff.apps import REVIEW_SCREENING, VIEW_FILES
from cmo.staff.models import CredentialFile, ScreeningRun
from cmo.web.audit import log_access
from cmo.web.scope import scope_of

router = Router(tags=["staff"])


class Item(Schema):
    kind: str
    label: str
    expires: date | None = None


class FileSummary(Schema):
    id: int
    practitioner_id: int
    practitioner: str
    npi: str | None = None
    npi_ok: bool
    caqh_id: str


class FileDetail(FileSummary):
    licences: list[Item]
    deas: list[Item]
    boards: list[Item]
    malpractice: list[Item]
    bad_deas: list[str]
    work_gaps: list[dict[str, Any]]
    cme_earned: float
    cme_required: float
    stale_verifications: list[str]
    unverified: list[str]
    privileges: list[dict[str, Any]]


class Expirable(Schema):
    file_id: int
    practitioner_id: int
    practitioner: str
    departments: list[str]
    kind: str
    label: str
    expires: date
    window: str


class Run(Schema):
    id: int
    started: datetime
    by: str
    leie_name: str
    leie_date: date | None = None
    leie_sha256: str
    leie_rows: int
    sam_name: str
    sam_sha256: str
    sam_rows: int
    practitioners: int
    ok: bool
    error: str


class Match(Schema):
    id: int
    practitioner_id: int
    npi: str | None = None
    source: str
    match_on: str
    active: bool
    score: float
    waiver: str
    review: str
    reason: str
    row: dict[str, Any]


def _need(request: Any, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise HttpError(403, "your role does not include this")


def _summary(f: CredentialFile) -> dict[str, Any]:
    p = f.practitioner
    return {
        "id": f.pk,
        "practitioner_id": p.pk,
        "practitioner": str(p),
        "npi": p.npi,
        "npi_ok": f.npi_ok,
        "caqh_id": f.caqh_id,
    }


@router.get("/files", response=list[FileSummary])
def files(request: Any) -> list[dict[str, Any]]:
    _need(request, VIEW_FILES)
    found = list(services.files_in(scope_of(request.user).departments))
    log_access(request, filters={"credential_files": len(found)}, patient_ids=(), via="api")
    return [_summary(f) for f in found]


@router.get("/files/{file_id}", response=FileDetail)
def file(request: Any, file_id: int) -> dict[str, Any]:
    _need(request, VIEW_FILES)
    f = get_object_or_404(services.files_in(scope_of(request.user).departments), pk=file_id)
    log_access(request, filters={"credential_file": f.practitioner.code}, patient_ids=(), via="api")
    flags = services.file_flags(f, timezone.localdate())

    def items(qs: Iterable[Any]) -> list[dict[str, Any]]:
        return [{"kind": "", "label": str(x), "expires": x.expires} for x in qs]

    return {
        **_summary(f),
        "licences": items(f.licences.all()),
        "deas": items(f.deas.all()),
        "boards": items(f.boards.all()),
        "malpractice": items(f.policies.all()),
        "bad_deas": flags["bad_deas"],
        "work_gaps": flags["gaps"],
        "cme_earned": flags["cme"]["earned"],
        "cme_required": flags["cme"]["required"],
        "stale_verifications": flags["stale"],
        "unverified": flags["unverified"],
        "privileges": [
            {
                "privilege": g.privilege.name,
                "status": g.status,
                "granted_on": g.granted_on,
                "fppe_required": g.fppe_required,
            }
            for g in f.privileges.select_related("privilege")
        ],
    }


@router.get("/expirables", response=list[Expirable])
def expirables(request: Any, days: int = 90) -> list[dict[str, Any]]:
    _need(request, VIEW_FILES)
    items = services.expirables(
        timezone.localdate(), min(max(days, 0), 365), scope_of(request.user).departments
    )
    return [i.as_json() for i in items]


@router.get("/screening/runs", response=list[Run])
def runs(request: Any) -> list[ScreeningRun]:
    _need(request, REVIEW_SCREENING)
    return list(ScreeningRun.objects.all()[:50])


@router.get("/screening/runs/{run_id}/matches", response=list[Match])
def matches(request: Any, run_id: int) -> list[dict[str, Any]]:
    _need(request, REVIEW_SCREENING)
    run = get_object_or_404(ScreeningRun, pk=run_id)
    return [
        {
            "id": m.pk,
            "practitioner_id": m.practitioner_id,
            "npi": m.practitioner.npi,
            "source": m.source,
            "match_on": m.match_on,
            "active": m.active,
            "score": m.score,
            "waiver": m.waiver,
            "review": m.review,
            "reason": m.reason,
            "row": m.row,
        }
        for m in run.matches.select_related("practitioner")
    ]
