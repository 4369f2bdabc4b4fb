"""What the office does, as functions the pages, the API, the CLI and the demo share:
the expirables queue, holds on privileges, exclusion-screening runs and reviews, application
transitions, case volumes. Rules and their sources: :mod:`cmo.staff.rules`, docs/staff.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cmo.directory.models import Practitioner
from cmo.errors import CmoError, InputError
from cmo.staff import rules, screening
from cmo.staff.models import (
    Application,
    AppState,
    BoardCertification,
    CredentialFile,
    DeaRegistration,
    GrantStatus,
    Licence,
    MalpracticePolicy,
    PrivilegeGrant,
    Review,
    ScreeningMatch,
    ScreeningRun,
    Transition,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- expirables


@dataclass(frozen=True)
class Expirable:
    file_id: int
    practitioner_id: int
    practitioner: str
    departments: tuple[str, ...]  # department codes
    department_names: tuple[str, ...]
    kind: str  # licence | dea | board | malpractice
    label: str
    expires: date
    window: str  # expired | 30 | 60 | 90

    def as_json(self) -> dict[str, Any]:
        out = {**self.__dict__, "departments": list(self.departments)}
        out.pop("department_names")
        return out


EXPIRING = (
    ("licence", Licence, "licences"),
    ("dea", DeaRegistration, "deas"),
    ("board", BoardCertification, "boards"),
    ("malpractice", MalpracticePolicy, "policies"),
)


def files_in(departments: list[str] | None) -> QuerySet[CredentialFile]:
    """Credential files, limited to practitioners of these department codes (None = all)."""
    files = CredentialFile.objects.select_related("practitioner")
    if departments is not None:
        files = files.filter(
            practitioner__memberships__department__code__in=departments,
            practitioner__memberships__end__isnull=True,
        ).distinct()
    return files


def expirables(
    today: date, days: int = 90, departments: list[str] | None = None
) -> list[Expirable]:
    """Items expiring within ``days`` days or already expired, soonest first."""
    files = {f.pk: f for f in files_in(departments)}
    depts = _departments_of([f.practitioner_id for f in files.values()])
    horizon = date.fromordinal(today.toordinal() + days)
    out = []
    for kind, model, _ in EXPIRING:
        for item in model.objects.filter(file__in=files.keys(), expires__lte=horizon):
            f = files[item.file_id]
            out.append(
                Expirable(
                    f.pk,
                    f.practitioner_id,
                    str(f.practitioner),
                    tuple(code for code, _ in depts.get(f.practitioner_id, ())),
                    tuple(name for _, name in depts.get(f.practitioner_id, ())),
                    kind,
                    str(item),
                    item.expires,
                    rules.window(item.expires, today) or str(days),
                )
            )
    return sorted(out, key=lambda e: (e.expires, e.practitioner, e.kind))


def mail_digest(items: list[Expirable], days: int, today: date) -> None:
    """Mail the office the day's expirables (nothing to say, no mail)."""
    if not items:
        return
    lines = "\n".join(
        f"- {i.window:>7}  {i.expires}  {i.practitioner}: {i.label}"
        f" [{', '.join(i.department_names) or 'no department'}]"
        for i in items
    )
    expired = sum(i.window == "expired" for i in items)
    notify(
        f"{len(items)} credential(s) expired or expiring within {days} days ({expired} expired)",
        f"As of {today}:\n\n{lines}\n",
    )


def _departments_of(practitioner_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """Current departments of each practitioner as (code, name), sorted by code."""
    from cmo.directory.models import Membership

    out: dict[int, list[tuple[str, str]]] = {}
    for m in Membership.objects.filter(
        practitioner_id__in=list(practitioner_ids), end__isnull=True
    ).select_related("department"):
        out.setdefault(m.practitioner_id, []).append((m.department.code, m.department.name))
    return {k: sorted(v) for k, v in out.items()}


# ---------------------------------------------------------------- holds on privileges


def notify(subject: str, body: str) -> None:
    """Mail the office (Django's email backend; the console backend unless configured)."""
    to = getattr(settings, "STAFF_OFFICE_EMAIL", "medical-staff-office@localhost")
    send_mail(f"[cmo staff] {subject}", body, None, [to])


def hold(grants: Iterable[PrivilegeGrant], reason: str) -> list[PrivilegeGrant]:
    """Put granted privileges on "suspended — pending" for the office to confirm, and say so.

    Never silent: every hold is mailed to the office and listed in its work queue.
    """
    held = []
    for g in grants:
        if g.status != GrantStatus.GRANTED:
            continue
        g.status, g.hold_reason = GrantStatus.HOLD, reason[:300]
        g._change_reason = reason  # simple-history keeps why
        g.save(update_fields=["status", "hold_reason"])
        held.append(g)
    if held:
        lines = "\n".join(f"- {g.file.practitioner}: {g.privilege}" for g in held)
        notify(
            f"{len(held)} privilege(s) suspended pending confirmation",
            f"{reason}\n\n{lines}\n\nConfirm or release each hold in the office's work queue.",
        )
    return held


def apply_expiry_holds(today: date) -> list[PrivilegeGrant]:
    """An expired licence holds every privilege of the file; an expired DEA registration holds
    the privileges that need one (unless a current one of the same state replaced it). A DEA
    number failing its check digit is flagged on the file, not held: it needs a look, not a
    suspension. Returns the new holds."""
    held: list[PrivilegeGrant] = []
    for lic in Licence.objects.filter(expires__lt=today).select_related("file__practitioner"):
        if lic.file.licences.filter(state=lic.state, expires__gte=today).exists():
            continue  # renewed: a newer licence of the same state is current
        grants = lic.file.privileges.select_related("privilege", "file__practitioner")
        held += hold(grants, f"licence {lic.state} {lic.number} expired {lic.expires}")
    for dea in DeaRegistration.objects.filter(expires__lt=today).select_related("file"):
        if dea.file.deas.filter(state=dea.state, expires__gte=today).exists():
            continue
        grants = dea.file.privileges.filter(privilege__requires_dea=True).select_related(
            "privilege", "file__practitioner"
        )
        held += hold(grants, f"DEA {dea.number} expired {dea.expires}")
    return held


def decide_hold(grant: PrivilegeGrant, user: Any, *, confirm: bool, reason: str) -> None:
    """The office confirms a hold (suspended) or releases it (granted again), with a reason."""
    if grant.status != GrantStatus.HOLD:
        raise InputError(f"{grant} is not pending a suspension decision")
    if not reason.strip():
        raise InputError("a reason is required")
    grant.status = GrantStatus.SUSPENDED if confirm else GrantStatus.GRANTED
    if not confirm:
        grant.hold_reason = ""
    grant._change_reason = reason
    grant._history_user = user
    grant.save(update_fields=["status", "hold_reason"])


# ---------------------------------------------------------------- exclusion screening


def _people() -> list[screening.Person]:
    return [
        screening.Person(p.pk, p.npi, p.family_name or p.name, p.given_name, p.birth_date)
        for p in Practitioner.objects.filter(active=True)
    ]


def run_screening(
    leie: Path, sam: Path | None, *, by: str, today: date | None = None
) -> tuple[ScreeningRun, list[screening.Hit]]:
    """Screen every active directory practitioner against the LEIE (and SAM) files.

    A file that cannot be read, lacks the columns or has no rows stores a FAILED run and
    raises: a failed run never marks anyone clear. NPI hits on active rows are confirmed at
    once and open the suspension workflow; the others wait for a reviewer.
    """
    today = today or timezone.localdate()
    try:
        files = [screening.read_leie(leie, today)]
        if sam is not None:
            files.append(screening.read_sam(sam, today))
    except CmoError as exc:
        ScreeningRun.objects.create(
            by=by, leie_name=leie.name, sam_name=sam.name if sam else "", ok=False, error=str(exc)
        )
        raise
    people = _people()
    hits = screening.screen(people, [row for f in files for row in f.rows])
    with transaction.atomic():
        run = ScreeningRun.objects.create(
            by=by,
            leie_name=leie.name,
            leie_date=files[0].modified,
            leie_sha256=files[0].sha256,
            leie_rows=len(files[0].rows),
            sam_name=sam.name if sam else "",
            sam_date=files[1].modified if sam else None,
            sam_sha256=files[1].sha256 if sam else "",
            sam_rows=len(files[1].rows) if sam else 0,
            practitioners=len(people),
            ok=True,
        )
        matches = [_store(run, h) for h in hits]
    for m in matches:
        if m.review == Review.CONFIRMED and m.active:
            open_suspension(m)
    waiting = [m for m in matches if m.review == Review.PENDING and m.active]
    if waiting:
        notify(
            f"{len(waiting)} exclusion match(es) need review",
            "\n".join(f"- {m.practitioner}: {m.get_match_on_display()}" for m in waiting)
            + f"\n\nRun of {run.started:%Y-%m-%d} against {run.leie_name}.",
        )
    return run, hits


def _store(run: ScreeningRun, hit: screening.Hit) -> ScreeningMatch:
    """Keep a hit; a reviewer's earlier decision on the same row carries over."""
    earlier = (
        ScreeningMatch.objects.filter(practitioner_id=hit.practitioner_id, row=hit.row)
        .exclude(review=Review.PENDING)
        .order_by("-reviewed_at")
        .first()
    )
    review, reason = Review.PENDING, ""
    if hit.match_on == "npi" and hit.active:
        review, reason = Review.CONFIRMED, "NPI matches an active exclusion"
    elif earlier is not None:
        review = Review(earlier.review)
        reason = f"as reviewed {earlier.reviewed_at:%Y-%m-%d}: {earlier.reason}"
    match: ScreeningMatch = ScreeningMatch.objects.create(
        run=run,
        practitioner_id=hit.practitioner_id,
        source=hit.source,
        match_on=hit.match_on,
        score=hit.score,
        active=hit.active,
        waiver=hit.waiver,
        row=hit.row,
        review=review,
        reason=reason,
        reviewed_at=timezone.now() if review != Review.PENDING else None,
    )
    return match


def review_match(match: ScreeningMatch, user: Any, *, confirm: bool, reason: str) -> None:
    """A reviewer confirms (this is the practitioner) or clears (it is not) a match."""
    if not reason.strip():
        raise InputError("a reason is required to confirm or clear a match")
    match.review = Review.CONFIRMED if confirm else Review.CLEARED
    match.reviewer, match.reviewed_at, match.reason = user, timezone.now(), reason
    match._history_user = user
    match.save()
    if confirm and match.active:
        open_suspension(match)


def open_suspension(match: ScreeningMatch) -> list[PrivilegeGrant]:
    """A confirmed, active exclusion holds every privilege of the practitioner."""
    grants = PrivilegeGrant.objects.filter(file__practitioner_id=match.practitioner_id)
    label = "OIG LEIE" if match.source == "leie" else "SAM.gov"
    return hold(
        grants.select_related("privilege", "file__practitioner"),
        f"{label} exclusion confirmed ({match.get_match_on_display()})",
    )


def last_clear(practitioner_id: int) -> ScreeningRun | None:
    """The latest completed run, if it left the practitioner with no open or confirmed active
    match; None otherwise (a failed run never counts)."""
    run = ScreeningRun.objects.filter(ok=True).first()
    if run is None:
        return None
    open_ = run.matches.filter(practitioner_id=practitioner_id, active=True).exclude(
        review=Review.CLEARED
    )
    return None if open_.exists() else run


# ---------------------------------------------------------------- applications

# state -> (next state, roles that may take the step). The CMO records the medical executive
# committee's decision; the board member records the board's.
STEPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "received": ("verification", ("medical_staff_office",)),
    "verification": ("chair_review", ("medical_staff_office",)),
    "chair_review": ("committee", ("department_chair",)),
    "committee": ("mec", ("credentials_committee",)),
    "mec": ("board", ("cmo",)),
    "board": ("letter", ("board_member",)),
    "letter": ("closed", ("medical_staff_office",)),
}


def roles_of(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def may_move(app: Application, user: Any) -> bool:
    step = STEPS.get(app.state)
    if step is None:
        return False
    if "department_chair" in step[1] and "department_chair" in roles_of(user):
        from cmo.web.scope import scope_of

        scope = scope_of(user).departments
        return scope is None or app.department.code in scope
    return bool(roles_of(user) & set(step[1]))


def move(
    app: Application, user: Any, comment: str, *, decision: str = "", today: date | None = None
) -> Transition:
    """Take the application to its next state; the board's step records the decision."""
    today = today or timezone.localdate()
    if app.state not in STEPS:
        raise InputError(f"the application is {app.get_state_display().lower()}")
    if not comment.strip():
        raise InputError("a comment is required for every step")
    if not may_move(app, user):
        raise PermissionError(f"your role may not take the {app.get_state_display()} step")
    to, allowed = STEPS[app.state]
    if app.state == AppState.BOARD:
        if decision not in ("approved", "denied"):
            raise InputError("the board's step records a decision: approved or denied")
        app.decision, app.decided_on = decision, today
    if app.state == AppState.LETTER:
        app.letter_sent_on = today
    role = sorted(roles_of(user) & set(allowed))[0]
    with transaction.atomic():
        step: Transition = Transition.objects.create(
            application=app, from_state=app.state, to_state=to, by=user, role=role, comment=comment
        )
        app.state, app.state_since = to, timezone.now()
        app._history_user = user
        app._change_reason = comment
        app.save()
    return step


def overdue(app: Application, today: date) -> bool:
    return rules.overdue(app.state, timezone.localdate(app.state_since), today)


def applications_for(user: Any) -> QuerySet[Application]:
    """Applications the user may see: a chair sees their departments' only."""
    from cmo.web.scope import scope_of

    apps = Application.objects.select_related("file__practitioner", "department")
    scope = scope_of(user).departments
    if scope is not None:
        apps = apps.filter(department__code__in=scope)
    return apps


def active_q() -> Q:
    return ~Q(state=AppState.CLOSED)


# ---------------------------------------------------------------- the file at a glance


def cme_required() -> float:
    return float(getattr(settings, "STAFF_CME_HOURS", rules.DEFAULT_CME_HOURS))


def file_flags(file: CredentialFile, today: date, decision: date | None = None) -> dict[str, Any]:
    """What the office must look at in a file: check digits, gaps, CME, stale verifications."""
    start = file.cme_cycle_start or rules.add_months(today, -rules.DEFAULT_CYCLE_MONTHS)
    end = rules.add_months(start, rules.DEFAULT_CYCLE_MONTHS)
    earned = rules.cme_earned(((c.earned_on, c.hours) for c in file.cme.all()), start, end)
    gaps = rules.work_gaps(((w.start, w.end) for w in file.work.all()), today)
    explained = {w.start for w in file.work.all() if w.gap_explanation.strip()}
    decision = decision or _planned_decision(file)
    latest: dict[str, Any] = {}
    for v in file.verifications.all():  # newest first
        latest.setdefault(v.element, v)
    stale = sorted(
        v.get_element_display() for v in latest.values() if decision and v.stale_by(decision)
    )
    attested = file.health_attested_on
    return {
        "npi_ok": file.npi_ok,
        "bad_deas": [d.number for d in file.deas.all() if not d.check_ok],
        "gaps": [{"start": a, "end": b, "explained": b in explained} for a, b in gaps],
        "cme": {"start": start, "end": end, "earned": earned, "required": cme_required()},
        "cme_short": earned < cme_required(),
        "decision": decision,
        "stale": stale,
        "unverified": sorted(label for value, label in _elements() if value not in latest),
        "health_due": attested is None
        or not file.health_attestation_ok
        or rules.add_months(attested, 12) < today,
    }


def _elements() -> list[tuple[str, str]]:
    from cmo.staff.models import ElementKind

    return list(ElementKind.choices)


def _planned_decision(file: CredentialFile) -> date | None:
    app = file.applications.filter(active_q(), planned_decision__isnull=False).first()
    return app.planned_decision if app else None
