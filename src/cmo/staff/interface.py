"""What other domains may use of the medical staff office (the import contract's declared
door): a practitioner's privileges, the FPPE requirement of newly granted privileges, a
privilege change requested through the office's own approval states, and a file summary for
the practitioner timeline. The staff tables can change behind these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

# ---------------------------------------------------------------- for the review domain (OPPE,
# FPPE, peer review): privileges, FPPE of new privileges, privilege changes, timeline


# ``PrivilegeGrant.save`` writes this reason when a grant row is created (TJC MS.08.01.01): a
# grant whose reason still starts with it has an FPPE to run; the review domain replaces the
# reason with the FPPE's outcome when it closes.
NEW_PRIVILEGE_REASON = "new privilege"


@dataclass(frozen=True)
class Privilege:
    """One privilege grant of a practitioner."""

    grant_id: int
    practitioner_id: int
    department_code: str
    department: str
    privilege: str
    kind: str  # core | special
    status: str  # GrantStatus value: requested, granted, suspended_pending, suspended, ...
    status_label: str
    requested_on: date
    granted_on: date | None
    expires: date | None
    fppe_required: bool
    fppe_reason: str

    @property
    def fppe_pending(self) -> bool:
        return self.fppe_required and self.fppe_reason.startswith(NEW_PRIVILEGE_REASON)


def _privilege(g: Any) -> Privilege:
    return Privilege(
        grant_id=g.pk,
        practitioner_id=g.file.practitioner_id,
        department_code=g.privilege.department.code,
        department=g.privilege.department.name,
        privilege=g.privilege.name,
        kind=g.privilege.kind,
        status=g.status,
        status_label=g.get_status_display(),
        requested_on=g.requested_on,
        granted_on=g.granted_on,
        expires=g.expires,
        fppe_required=g.fppe_required,
        fppe_reason=g.fppe_reason,
    )


def _grants() -> Any:
    from cmo.staff.models import PrivilegeGrant

    return PrivilegeGrant.objects.select_related("privilege__department", "file")


def privileges_of(practitioner_id: int) -> list[Privilege]:
    """Every privilege grant of a directory practitioner (any status), by name."""
    return [_privilege(g) for g in _grants().filter(file__practitioner_id=practitioner_id)]


def privilege(grant_id: int) -> Privilege | None:
    g = _grants().filter(pk=grant_id).first()
    return _privilege(g) if g is not None else None


def new_privileges_needing_fppe() -> list[Privilege]:
    """Granted privileges new to the practitioner whose FPPE has not run yet (the automatic
    FPPE trigger of TJC MS.08.01.01), oldest grant first."""
    from cmo.staff.models import GrantStatus

    grants = _grants().filter(
        status=GrantStatus.GRANTED,
        fppe_required=True,
        fppe_reason__startswith=NEW_PRIVILEGE_REASON,
    )
    return [_privilege(g) for g in grants.order_by("granted_on", "pk")]


def record_fppe_outcome(grant_id: int, outcome: str, *, user: Any = None) -> None:
    """The FPPE of a new privilege ended: its outcome replaces the "new privilege" reason
    (the history keeps both), so the trigger does not fire again."""
    from cmo.staff.models import PrivilegeGrant

    g = PrivilegeGrant.objects.get(pk=grant_id)
    g.fppe_reason = outcome[:200]
    g._change_reason = outcome
    g._history_user = user
    g.save(update_fields=["fppe_reason"])


CHANGES = ("restrict", "revoke")


def request_privilege_change(
    practitioner_id: int,
    *,
    action: str,
    reason: str,
    grant_ids: list[int] | None = None,
) -> list[Privilege]:
    """Ask the office to restrict or revoke privileges after an FPPE or peer review.

    Goes through the office's own approval states: each granted privilege (all of the
    practitioner's, or ``grant_ids``) is put on "suspended — pending" with the reason and the
    office is mailed (``cmo.staff.services.hold``); the office then confirms (suspended) or
    releases (granted) each with a reason. Nothing changes silently. Returns the held grants.
    """
    from cmo.errors import InputError
    from cmo.staff import services

    if action not in CHANGES:
        raise InputError(f"a privilege change is one of {', '.join(CHANGES)}, not {action!r}")
    if not reason.strip():
        raise InputError("a privilege change needs a reason")
    grants = _grants().filter(file__practitioner_id=practitioner_id)
    if grant_ids is not None:
        grants = grants.filter(pk__in=grant_ids)
    held = services.hold(grants, f"{action} recommended: {reason}")
    return [_privilege(g) for g in held]


def file_summary(practitioner_id: int, today: date) -> dict[str, Any]:
    """The office's side of the practitioner timeline: applications (appointments and
    reappointments with their state), expirables within 90 days, the latest screening."""
    from cmo.staff import services
    from cmo.staff.models import Application, CredentialFile

    f = CredentialFile.objects.filter(practitioner_id=practitioner_id).first()
    if f is None:
        return {"file": False, "applications": [], "expirables": [], "screened": None}
    apps = Application.objects.filter(file=f).select_related("department")
    run = services.last_clear(practitioner_id)
    return {
        "file": True,
        "applications": [
            {
                "kind": a.get_kind_display(),
                "department": a.department.name,
                "state": a.get_state_display(),
                "received_on": a.received_on,
                "decision": a.decision,
                "decided_on": a.decided_on,
            }
            for a in apps
        ],
        "expirables": [
            {"kind": e.kind, "label": e.label, "expires": e.expires, "window": e.window}
            for e in services.expirables(today, 90)
            if e.practitioner_id == practitioner_id
        ],
        "screened": run.started.date() if run is not None else None,
    }


# ---------------------------------------------------------------- end of the review block


# --------------------------------------------------------------------------- the board report
DECISION_DAYS = 180  # NCQA Credentialing Standards 2025: decision within 180 days of attestation


def board_counts(start: date, end: date) -> dict[str, Any]:
    """Counts for the board's medical-staff section over ``[start, end)``: no names, no ids.

    - ``appointments`` / ``reappointments``: applications decided in the window (``decided``,
      ``approved``, ``denied``) and ``on_time``: decided within 180 days of receipt (NCQA
      Credentialing Standards 2025, CR 1: the credentialing decision within 180 calendar days
      of the attestation; our office's state targets add up to 139 days);
    - ``expired_credentials``: credential items expired at the window's end with no later item
      of the same kind covering it (licences per state, DEA registrations per state,
      malpractice cover, time-limited board certificates), over files of active practitioners;
      ``files_with_expired``: how many files hold one;
    - ``screening``: exclusion screening (OIG LEIE, SAM.gov; 42 CFR 455.436 and NCQA ask for a
      monthly check): successful runs in the window, ``months_screened`` of ``months`` (a month
      counts with at least one successful run), ``practitioners`` screened by the last run,
      ``pending_matches`` not yet reviewed at the window's end.
    The board applies the CMS cell-size rule (counts 1–10 suppressed) to what it shows.
    """
    from collections import defaultdict
    from datetime import datetime, time

    from django.utils import timezone

    from cmo.staff import models as m

    def decided(kind: str) -> dict[str, int]:
        apps = m.Application.objects.filter(
            kind=kind, decided_on__gte=start, decided_on__lt=end
        ).only("received_on", "decided_on", "decision")
        rows = list(apps)
        return {
            "decided": len(rows),
            "approved": sum(1 for a in rows if a.decision == "approved"),
            "denied": sum(1 for a in rows if a.decision == "denied"),
            "on_time": sum(
                1
                for a in rows
                if a.decided_on is not None and (a.decided_on - a.received_on).days <= DECISION_DAYS
            ),
        }

    latest: dict[tuple[str, int, str], date] = {}

    def keep(kind: str, file_id: int, key: str, expires: date | None) -> None:
        if expires is None:
            return
        k = (kind, file_id, key)
        if k not in latest or expires > latest[k]:
            latest[k] = expires

    active = {"file__practitioner__active": True}
    for lic in m.Licence.objects.filter(**active).values("file_id", "state", "kind", "expires"):
        keep("licence", lic["file_id"], f"{lic['state']}/{lic['kind']}", lic["expires"])
    for dea in m.DeaRegistration.objects.filter(**active).values("file_id", "state", "expires"):
        keep("dea", dea["file_id"], dea["state"], dea["expires"])
    for pol in m.MalpracticePolicy.objects.filter(**active).values("file_id", "expires"):
        keep("malpractice", pol["file_id"], "", pol["expires"])
    for cert in m.BoardCertification.objects.filter(**active).values("file_id", "board", "expires"):
        keep("board", cert["file_id"], cert["board"], cert["expires"])
    # Issued after the window's end do not cover it; the latest item known covers its key.
    expired = [k for k, exp in latest.items() if exp < end]
    by_kind: dict[str, int] = defaultdict(int)
    for kind, _file, _key in expired:
        by_kind[kind] += 1

    tz = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=tz)
    hi = datetime.combine(end, time.min, tzinfo=tz)
    runs = list(m.ScreeningRun.objects.filter(started__gte=lo, started__lt=hi, ok=True))
    months = (end.year - start.year) * 12 + end.month - start.month
    screened_months = {(r.started.year, r.started.month) for r in runs}
    pending = m.ScreeningMatch.objects.filter(run__started__lt=hi, review="pending").count()
    return {
        "appointments": decided("initial"),
        "reappointments": decided("reappointment"),
        "expired_credentials": len(expired),
        "expired_by_kind": dict(by_kind),
        "files_with_expired": len({f for _k, f, _key in expired}),
        "screening": {
            "runs": len(runs),
            "months": months,
            "months_screened": len(screened_months),
            "practitioners": max((r.practitioners for r in runs), default=0),
            "pending_matches": pending,
        },
    }


# ------------------------------------------------------------------ end of the board's block
