"""The review domain's demo (``Domain.demo``, run by ``cmo demo`` after the staff and safety
seeds): the loop on the planted signals.

- every demo practitioner gets an OPPE profile for the last complete half-year of the data,
  decided by the demo chair on time ("continue", or "start an FPPE" where a signal proposed
  one);
- the build's current signals propose FPPEs (the planted long-stay hospitalist and, at the
  default demo size, the planted orthopaedic surgeon); ordinary practitioners only where the
  signal statistics allow (99.8% funnel with q below the level, or a CUSUM alarm);
- the safety demo's peer-review referral becomes a case, reviewed and waiting in committee;
- the in-hospital deaths of the data's last month open mortality-review cases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cmo.directory.models import Department, Practitioner
from cmo.review import rules, services
from cmo.review.models import (
    Attribution,
    CaseStatus,
    Competency,
    Decision,
    Fppe,
    FppeStatus,
    OppeProfile,
    PeerCase,
)


def demo_users() -> dict[str, Any]:
    """The chair who signs the demo's OPPE decisions (every department) and a committee
    member; no password (they only sign the history)."""
    from django.contrib.auth.models import Group, User

    from cmo.web.registry import scope_source

    users = {}
    for role in ("department_chair", "peer_review_committee"):
        user, _ = User.objects.get_or_create(username=f"review_demo_{role}")
        if not user.has_usable_password():
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    source = scope_source()
    if source is not None:
        source.assign(
            users["department_chair"], list(Department.objects.values_list("code", flat=True))
        )
    return users


def seed(warehouse: Path, *, echo: Callable[[str], None] | None = print) -> dict[str, int]:
    """Seed the review demo from the demo warehouse (read through its serving snapshot).
    Idempotent: a database that already has OPPE profiles is left as it is."""
    import cmo.web
    from cmo.web import warehouse as doors

    cmo.web.migrate()
    if OppeProfile.objects.exists():
        if echo:
            echo("review demo: already seeded")
        return {}
    old = settings.WAREHOUSE
    settings.WAREHOUSE = Path(warehouse)
    doors.clear_cache()
    try:
        counts = _seed(echo)
    except doors.NoResults as exc:  # no serving snapshot: nothing to build profiles from
        if echo:
            echo(f"review demo: skipped ({exc})")
        counts = {}
    finally:
        settings.WAREHOUSE = old
        doors.clear_cache()
    return counts


def _seed(echo: Callable[[str], None] | None) -> dict[str, int]:
    from cmo.review.warehouse import data_end

    end = data_end()
    if end is None:
        return {}
    cycle = rules.last_complete_cycle(end, services.cycle_months())
    today = timezone.localdate()
    with transaction.atomic():
        users = demo_users()
        cases = services.intake_referrals()
        proposals = services.propose_from_signals()
        services.fppe_for_new_privileges()
        profiles = services.build_oppe(cycle.label)
        proposed = set(
            Fppe.objects.filter(status=FppeStatus.PROPOSED).values_list(
                "practitioner_id", flat=True
            )
        )
        chair = users["department_chair"]
        for pr in profiles:
            if pr.practitioner_id in proposed:
                services.decide_oppe(
                    pr,
                    chair,
                    str(Decision.FPPE),
                    "Outcome signal on this profile: FPPE proposed; plan to follow.",
                )
            else:
                services.decide_oppe(
                    pr, chair, str(Decision.CONTINUE), "Reviewed; within expectations."
                )
        # The chair signed within the cycle's window (the demo's data are from the past).
        OppeProfile.objects.filter(cycle=cycle.label).update(
            decided_at=timezone.make_aware(
                timezone.datetime.combine(
                    cycle.due - timedelta(days=12), timezone.datetime.min.time()
                )
            )
        )
        last_month = date(end.year - (end.month == 1), (end.month - 2) % 12 + 1, 1)
        deaths = services.intake_deaths(last_month, end, opened_on=today)
        in_committee = _committee_case(cases or deaths, users["peer_review_committee"])
    counts = {
        "oppe_profiles": len(profiles),
        "fppe_proposals": len(proposals),
        "referral_cases": len(cases),
        "mortality_cases": len(deaths),
        "in_committee": int(in_committee is not None),
    }
    if echo:
        names = ", ".join(sorted({str(f.practitioner) for f in proposals})) or "none"
        echo(
            f"review demo: OPPE {cycle.label} for {len(profiles)} practitioners (all decided), "
            f"{len(proposals)} FPPE proposal(s) from signals ({names}), "
            f"{len(cases) + len(deaths)} peer-review case(s), "
            f"{counts['in_committee']} in committee"
        )
    return counts


def _committee_case(cases: list[PeerCase], committee: Any) -> PeerCase | None:
    """The first case with a practitioner: a reviewer without a conflict scores it, so it
    waits in committee."""
    case = next((c for c in cases if c.practitioner_id is not None), None)
    if case is None:
        return None
    reviewer = next(
        (
            p
            for p in Practitioner.objects.filter(active=True).exclude(pk=case.practitioner_id)
            if services.conflict_reason(case, p) is None
        ),
        None,
    )
    if reviewer is None:
        return None
    a = services.assign(case, reviewer, committee)
    services.submit_score(
        a,
        committee,
        score=3,
        attribution=str(Attribution.BOTH),
        competency=str(Competency.PATIENT_CARE),
        comment="Alert override without documentation; the order set allowed the dose.",
    )
    case.refresh_from_db()
    return case if case.status == CaseStatus.COMMITTEE else None
