"""What other domains may use of the medical-staff domain (the import contract's declared door).

Each block below is one consumer's: the board report's counts, the review module's privilege
functions. Nothing here returns a name or an identifier unless its docstring says so.
"""

from __future__ import annotations

from datetime import date
from typing import Any

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
