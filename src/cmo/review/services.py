"""What practitioner review does, as small functions the pages, the API, the CLI and the demo
share: OPPE profiles and the chair's decision; FPPE triggers (new privilege, outcome signal,
peer-review finding, OPPE), plans, progress and outcomes; peer-review cases (intake with
de-duplication, reviewer assignment under the conflict-of-interest rules, scoring, the
committee's decision); board counts. Rules and sources: :mod:`cmo.review.rules`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cmo.directory.models import Department, Membership, Practitioner
from cmo.errors import InputError
from cmo.review import rules
from cmo.review.models import (
    Assignment,
    Attribution,
    CaseSource,
    CaseStatus,
    Conflict,
    Decision,
    Fppe,
    FppeStatus,
    Indicator,
    IndicatorKind,
    ManualValue,
    Method,
    OppeProfile,
    Outcome,
    PeerCase,
    Score,
    Trigger,
)

MODERATE, MAJOR = 3, 4  # Score values: moderate and major opportunity


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def cycle_months() -> int:
    months = int(setting("REVIEW_OPPE_MONTHS", rules.DEFAULT_CYCLE_MONTHS))
    if months not in (6, 12):
        raise InputError("REVIEW_OPPE_MONTHS is 6 or 12 (OPPE is at most 12-monthly)")
    return months


def q_level() -> float:
    return float(setting("REVIEW_Q_LEVEL", rules.Q_LEVEL))


def _now() -> datetime:
    now: datetime = timezone.now()
    return now


def _today() -> date:
    today: date = timezone.localdate()
    return today


def primary_department(p: Practitioner) -> Department | None:
    m = (
        Membership.objects.filter(practitioner=p, end__isnull=True)
        .select_related("department")
        .order_by("-primary", "department__code")
        .first()
    )
    return m.department if m is not None else None


def _departments_of(practitioner_ids: list[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for m in Membership.objects.filter(practitioner_id__in=practitioner_ids, end__isnull=True):
        out[m.practitioner_id].add(m.department_id)
    return out


# ---------------------------------------------------------------- OPPE

# The default indicator set (every department; a chair's department may add its own):
# (kind, measure, label, competency, review at, action at). Thresholds are on the shrunken
# O/E: review from 1.25, action from 1.5 (the department sets its own).
DEFAULT_INDICATORS = (
    ("volume", "IMORT", "Inpatient stays attended", "patient_care", None, None),
    ("measure", "IMORT", "In-hospital mortality (O/E)", "patient_care", 1.25, 1.5),
    ("measure", "MORT30", "30-day mortality (O/E)", "patient_care", 1.25, 1.5),
    ("measure", "READM30", "30-day readmission (O/E)", "systems_based_practice", 1.25, 1.5),
    ("measure", "LOS", "Length-of-stay index (O/E)", "systems_based_practice", 1.25, 1.5),
    ("safety", "", "Safety events referred to peer review", "professionalism", 1, 2),
    ("peer_review", "", "Peer-review cases scored 3-4", "medical_knowledge", 1, 2),
)


def ensure_indicators() -> None:
    """The default set, once (edited afterwards in the admin)."""
    if Indicator.objects.filter(department__isnull=True).exists():
        return
    for kind, mid, label, comp, review_at, action_at in DEFAULT_INDICATORS:
        Indicator.objects.create(
            kind=kind,
            measure_id=mid,
            label=label,
            competency=comp,
            review_at=review_at,
            action_at=action_at,
        )


def indicators_for(department: Department | None) -> list[Indicator]:
    qs = Indicator.objects.filter(active=True, department__isnull=True)
    own = list(Indicator.objects.filter(active=True, department=department)) if department else []
    return list(qs) + own


def _measure_totals(measure_id: str, cycle: rules.Cycle) -> dict[str, tuple[int, float, float]]:
    """(cases, observed, expected) of each practitioner over the cycle's months."""
    from cmo.review.warehouse import NoResults, results

    try:
        rows = results(measure_id, period_type="month", level="practitioner")
    except NoResults:
        return {}
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for r in rows:
        if not (cycle.start <= r["period_start"] < cycle.end):
            continue
        t = out[str(r["unit_id"])]
        t[0] += int(r["denominator"] or 0)
        t[1] += float(r["numerator"] or 0.0)
        t[2] += float(r["expected"] or 0.0)
    return {k: (int(v[0]), v[1], v[2]) for k, v in out.items()}


def _referral_counts(cycle: rules.Cycle) -> dict[str, int]:
    from cmo.safety.interface import referrals_for_review

    out: dict[str, int] = defaultdict(int)
    for r in referrals_for_review(pending_only=False):
        if r.practitioner_code and cycle.start <= r.occurred_at.date() < cycle.end:
            out[r.practitioner_code] += 1
    return out


def _peer_results(cycle: rules.Cycle) -> dict[int, tuple[int, int]]:
    """Cases closed in the cycle per practitioner: (closed, scored 3-4)."""
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for c in PeerCase.objects.filter(
        status=CaseStatus.CLOSED, closed_on__gte=cycle.start, closed_on__lt=cycle.end
    ):
        if c.practitioner_id is None:
            continue
        out[c.practitioner_id][0] += 1
        out[c.practitioner_id][1] += int((c.score or 0) >= MODERATE)
    return {k: (v[0], v[1]) for k, v in out.items()}


def build_oppe(
    label: str, *, practitioners: QuerySet[Practitioner] | None = None
) -> list[OppeProfile]:
    """Build (or rebuild) the cycle's profile of every active practitioner with a department:
    each indicator with its value, department peers, the shrunken estimate and its grade.
    A decided profile keeps its decision; its figures are refreshed."""
    cycle = rules.parse_cycle(label)
    ensure_indicators()
    people = list(
        # A current membership: applicants without one are not on the staff yet.
        (practitioners if practitioners is not None else Practitioner.objects.filter(active=True))
        .filter(pk__in=Membership.objects.filter(end__isnull=True).values("practitioner_id"))
        .distinct()
    )
    depts = {p.pk: primary_department(p) for p in people}
    minimum = int(setting("REVIEW_MIN_CASES", rules.MIN_CASES))
    measure_ids = sorted(
        {i.measure_id for i in Indicator.objects.filter(active=True) if i.measure_id}
    )
    totals = {mid: _measure_totals(mid, cycle) for mid in measure_ids}
    shrunk = {mid: rules.shrink_all(t) for mid, t in totals.items()}
    peers_of: dict[int, list[str]] = defaultdict(list)  # department id -> practitioner codes
    for p in people:
        d = depts[p.pk]
        if d is not None:
            peers_of[d.pk].append(p.code)
    referrals = _referral_counts(cycle)
    peer = _peer_results(cycle)
    manual = {
        (v.indicator_id, v.practitioner_id): v.value
        for v in ManualValue.objects.filter(cycle=cycle.label)
    }
    out = []
    for p in people:
        dept = depts[p.pk]
        rows = []
        for ind in indicators_for(dept):
            row: dict[str, Any] = {
                "indicator_id": ind.pk,
                "indicator": ind.label,
                "kind": ind.kind,
                "measure_id": ind.measure_id,
                "competency": ind.get_competency_display(),
                "review_at": ind.review_at,
                "action_at": ind.action_at,
                "value": None,
                "n": None,
                "note": "",
            }
            if ind.kind in (IndicatorKind.MEASURE, IndicatorKind.VOLUME):
                t = totals.get(ind.measure_id, {})
                n, o, e = t.get(p.code, (0, 0.0, 0.0))
                row["n"] = n
                if ind.kind == IndicatorKind.VOLUME:
                    row["value"] = n
                else:
                    row.update(_measure_row(ind, n, o, e, t, peers_of, dept, p, shrunk, minimum))
            elif ind.kind == IndicatorKind.SAFETY:
                row["value"] = referrals.get(p.code, 0)
            elif ind.kind == IndicatorKind.PEER_REVIEW:
                closed, poor = peer.get(p.pk, (0, 0))
                row["value"], row["n"] = poor, closed
                row["note"] = f"{closed} case(s) closed in the cycle"
            else:
                row["value"] = manual.get((ind.pk, p.pk))
                if row["value"] is None:
                    row["note"] = "not entered"
            if "grade" not in row:
                row["grade"] = rules.grade(
                    row["value"], ind.review_at, ind.action_at, ind.higher_is_worse
                )
            rows.append(row)
        profile, _ = OppeProfile.objects.update_or_create(
            cycle=cycle.label,
            practitioner=p,
            defaults={"department": dept, "due": cycle.due, "data": rows},
        )
        out.append(profile)
    return out


def _measure_row(
    ind: Indicator,
    n: int,
    o: float,
    e: float,
    totals: dict[str, tuple[int, float, float]],
    peers_of: dict[int, list[str]],
    dept: Department | None,
    p: Practitioner,
    shrunk: dict[str, dict[str, rules.Shrunk]],
    minimum: int,
) -> dict[str, Any]:
    peers = [c for c in (peers_of.get(dept.pk, []) if dept else []) if c != p.code]
    peer_o = sum(totals.get(c, (0, 0.0, 0.0))[1] for c in peers)
    peer_e = sum(totals.get(c, (0, 0.0, 0.0))[2] for c in peers)
    row: dict[str, Any] = {
        "observed": round(o, 2),
        "expected": round(e, 2),
        "oe": round(o / e, 3) if e > 0 else None,
        "peers": len(peers),
        "peer_oe": round(peer_o / peer_e, 3) if peer_e > 0 else None,
    }
    if n < minimum:
        row.update(grade="too_few", note=f"too few cases ({n} < {minimum}): no rate shown")
        row["oe"] = None
        return row
    s = shrunk.get(ind.measure_id or "", {}).get(p.code)
    if s is not None:
        row.update(
            shrunk=round(s.ratio, 3), shrunk_low=round(s.low, 3), shrunk_high=round(s.high, 3)
        )
        row["value"] = row["shrunk"]
    else:
        row["value"] = row["oe"]
    return row


def set_manual_value(profile: OppeProfile, indicator: Indicator, value: float, user: Any) -> None:
    """A hand-entered indicator value (a documentation audit, ...) of a profile: stored with
    its history and graded into the profile at once."""
    if indicator.kind != IndicatorKind.MANUAL or not indicator.active:
        raise InputError("only an active manual indicator takes a hand-entered value")
    if indicator.department_id not in (None, profile.department_id):
        raise InputError("the indicator is another department's")
    mv, _ = ManualValue.objects.update_or_create(
        indicator=indicator,
        practitioner=profile.practitioner,
        cycle=profile.cycle,
        defaults={"value": value},
    )
    mv._history_user = user
    mv.save()
    rows = [r for r in profile.data if r.get("indicator_id") != indicator.pk]
    rows.append(
        {
            "indicator_id": indicator.pk,
            "indicator": indicator.label,
            "kind": indicator.kind,
            "measure_id": "",
            "competency": indicator.get_competency_display(),
            "review_at": indicator.review_at,
            "action_at": indicator.action_at,
            "value": value,
            "n": None,
            "note": "entered by hand",
            "grade": rules.grade(
                value, indicator.review_at, indicator.action_at, indicator.higher_is_worse
            ),
        }
    )
    profile.data = rows
    profile.save(update_fields=["data"])


def decide_oppe(profile: OppeProfile, user: Any, decision: str, comment: str) -> OppeProfile:
    """The chair's signed, timestamped decision. "Start an FPPE" opens a proposal for the
    chair to accept with a plan (an existing proposal of the practitioner is kept); "refer to
    peer review" opens a case."""
    if decision not in Decision.values:
        raise InputError("choose continue, start an FPPE or refer to peer review")
    if not comment.strip():
        raise InputError("a comment is required with the decision")
    with transaction.atomic():
        profile.decision, profile.comment = decision, comment
        profile.decided_by = user if getattr(user, "pk", None) else None
        profile.decided_by_name = (
            getattr(user, "get_full_name", lambda: "")() or getattr(user, "username", "") or "cli"
        )
        profile.decided_at = _now()
        profile._history_user = profile.decided_by
        profile.save()
        key = f"oppe:{profile.cycle}:{profile.practitioner_id}"
        if decision == str(Decision.FPPE) and not _open_fppe(profile.practitioner_id).exists():
            Fppe.objects.create(
                practitioner=profile.practitioner,
                department=profile.department,
                trigger=Trigger.OPPE,
                key=key,
                evidence={"cycle": profile.cycle, "comment": comment},
            )
        elif decision == str(Decision.PEER_REVIEW):
            open_case(
                profile.practitioner,
                source=str(CaseSource.OPPE),
                key=key,
                concern=f"OPPE {profile.cycle}: {comment}",
            )
    return profile


def completion(label: str, departments: list[str] | None = None) -> list[dict[str, Any]]:
    """Per department: profiles due, decided, decided on time (by the cycle's due date)."""
    rows: dict[str, dict[str, Any]] = {}
    qs = OppeProfile.objects.filter(cycle=label).select_related("department")
    if departments is not None:
        qs = qs.filter(department__code__in=departments)
    for pr in qs:
        name = pr.department.name if pr.department else "No department"
        r = rows.setdefault(name, {"department": name, "due": 0, "done": 0, "on_time": 0})
        r["due"] += 1
        if pr.decided_at is not None:
            r["done"] += 1
            r["on_time"] += int(timezone.localdate(pr.decided_at) <= pr.due)
    for r in rows.values():
        r["percent"] = round(100 * r["on_time"] / r["due"]) if r["due"] else 0
    return sorted(rows.values(), key=lambda r: str(r["department"]))


# ---------------------------------------------------------------- FPPE


def _open_fppe(practitioner_id: int) -> QuerySet[Fppe]:
    return Fppe.objects.filter(
        practitioner_id=practitioner_id, status__in=[FppeStatus.PROPOSED, FppeStatus.ACTIVE]
    )


def _practitioner(code: str) -> Practitioner | None:
    p: Practitioner | None = Practitioner.objects.filter(code=code).first()
    return p


def propose_from_signals(level: float | None = None) -> list[Fppe]:
    """Proposals from the build's practitioner signals of the last ``REVIEW_SIGNAL_MONTHS``
    (default 24: the privilege period, TJC MS.06.01.07) that pass :func:`rules.signal_proposes`
    (funnel 99.8% with q below the level, or a CUSUM alarm), newest first.

    One open proposal per practitioner: a further qualifying signal (another measure or year)
    joins its evidence (``also``) and its measure list. A signal is proposed once: a declined
    proposal is not proposed again for the same signal. The evidence keeps the signal row and
    the funnel point as the build had them. Returns the new proposals."""
    from cmo.review.warehouse import NoResults, data_end, signals

    level = q_level() if level is None else level
    try:
        rows = signals(current=None)
        end = data_end()
    except NoResults:
        return []
    if end is None:
        return []
    months = int(setting("REVIEW_SIGNAL_MONTHS", 24))
    back = end.year * 12 + end.month - 1 - months
    since = date(back // 12, back % 12 + 1, 1)
    known: set[str] = set()
    for f in Fppe.objects.filter(trigger=Trigger.SIGNAL):
        known.add(f.key)
        known.update(str(x.get("key")) for x in f.evidence.get("also", []))
    made: list[Fppe] = []
    for row in rows:
        start = row["period_start"]
        if start is None or start < since:
            continue
        ok, why = rules.signal_proposes(dict(row), level)
        if not ok:
            continue
        p = _practitioner(str(row["unit_id"]))
        if p is None:
            continue
        key = f"signal:{row['measure_id']}:{row['kind']}:{row['unit_id']}:{start}"
        if key in known:
            continue
        known.add(key)
        item = {
            "key": key,
            "why": why,
            "signal": _jsonable(dict(row)),
            "funnel_point": _jsonable(_funnel_point(row)),
        }
        open_ = _open_fppe(p.pk).filter(trigger=Trigger.SIGNAL).first()
        if open_ is not None:
            open_.evidence = {**open_.evidence, "also": [*open_.evidence.get("also", []), item]}
            measures = [m for m in open_.measure_id.split(", ") if m]
            if row["measure_id"] not in measures:
                open_.measure_id = ", ".join([*measures, str(row["measure_id"])])[:40]
            open_.save(update_fields=["evidence", "measure_id"])
            continue
        made.append(
            Fppe.objects.create(
                practitioner=p,
                department=primary_department(p),
                trigger=Trigger.SIGNAL,
                measure_id=str(row["measure_id"]),
                key=key,
                evidence={k: v for k, v in item.items() if k != "key"},
            )
        )
    return made


def propose_from_sentinel_events() -> list[Fppe]:
    """A proposal for each practitioner named on a Joint Commission sentinel event (TJC
    Sentinel Event Policy; an FPPE trigger under MS.08.01.01 EP 4: "when issues affecting the
    provision of safe, high quality patient care are identified"), once per event and
    practitioner, with the event as evidence. The chair decides; nothing is imposed."""
    from cmo.safety.interface import sentinel_involvements

    made: list[Fppe] = []
    for inv in sentinel_involvements():
        key = f"sentinel:{inv.event_reference}:{inv.practitioner_code}"
        p = _practitioner(inv.practitioner_code)
        if p is None or Fppe.objects.filter(key=key).exists():
            continue
        made.append(
            Fppe.objects.create(
                practitioner=p,
                department=primary_department(p),
                trigger=Trigger.SENTINEL,
                key=key,
                evidence={
                    "event": inv.event_reference,
                    "event_type": inv.event_type,
                    "harm": inv.harm,
                    "occurred": inv.occurred_at.date().isoformat(),
                },
            )
        )
    return made


def _funnel_point(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The practitioner's point of the signal's funnel (None for a CUSUM alarm)."""
    from cmo.review.warehouse import funnel

    if not str(row["kind"]).startswith("funnel"):
        return None
    points = funnel(row["measure_id"], level="practitioner", period_start=row["period_start"])
    return next((dict(f) for f in points if f["unit_id"] == row["unit_id"]), None)


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}


def fppe_for_new_privileges() -> list[Fppe]:
    """The automatic trigger: every newly granted privilege (staff module) gets an active FPPE
    (TJC MS.08.01.01: all initially requested privileges are evaluated), one per grant."""
    from cmo.staff.interface import new_privileges_needing_fppe

    made = []
    for g in new_privileges_needing_fppe():
        key = f"grant:{g.grant_id}"
        if Fppe.objects.filter(key=key).exists():
            continue
        p = Practitioner.objects.get(pk=g.practitioner_id)
        made.append(
            Fppe.objects.create(
                practitioner=p,
                department=Department.objects.filter(code=g.department_code).first(),
                trigger=Trigger.NEW_PRIVILEGE,
                key=key,
                grant_id=g.grant_id,
                status=FppeStatus.ACTIVE,
                opened=g.granted_on or _today(),
                method=Method.RETROSPECTIVE,
                cases_required=int(setting("REVIEW_NEW_PRIVILEGE_CASES", 5)),
                criteria=f"{g.privilege}: the department's criteria for the privilege",
                evidence={
                    "privilege": g.privilege,
                    "department": g.department,
                    "granted_on": g.granted_on.isoformat() if g.granted_on else None,
                },
            )
        )
    return made


def _check_chair(f: Fppe, user: Any) -> None:
    """The user may decide this FPPE; ``f`` is reloaded first, so a decision never writes back
    a stale copy (evidence a later signal added since it was read)."""
    from cmo.web.scope import scope_of

    f.refresh_from_db()

    scope = scope_of(user)
    if not scope.can("review.decide_fppe"):
        raise PermissionError("your role may not decide FPPEs")
    if not Fppe.objects.restrict(scope).filter(pk=f.pk).exists():
        raise PermissionError("this FPPE is outside your departments")


def accept_fppe(
    f: Fppe,
    user: Any,
    *,
    method: str,
    cases_required: int | None,
    duration_days: int | None,
    reviewers: str,
    criteria: str,
    comment: str = "",
    today: date | None = None,
) -> Fppe:
    """The chair accepts a proposal with a plan: the FPPE starts."""
    _check_chair(f, user)
    if f.status != FppeStatus.PROPOSED:
        raise InputError(f"the FPPE is {f.get_status_display().lower()}, not proposed")
    if method not in Method.values:
        raise InputError("choose a method")
    if not cases_required and not duration_days:
        raise InputError("the plan needs a number of cases or a duration")
    f.status, f.opened = FppeStatus.ACTIVE, today or _today()
    f.method, f.cases_required, f.duration_days = method, cases_required, duration_days
    f.reviewers, f.criteria, f.comment, f.decided_by = reviewers, criteria, comment, user
    f._history_user = user
    f.save()
    return f


def decline_fppe(f: Fppe, user: Any, comment: str) -> Fppe:
    """The chair declines a proposal, with the reason (kept; the same signal is not proposed
    again)."""
    _check_chair(f, user)
    if f.status != FppeStatus.PROPOSED:
        raise InputError("only a proposal can be declined")
    if not comment.strip():
        raise InputError("say why the proposal is declined")
    f.status, f.comment, f.decided_by, f.closed_on = FppeStatus.DECLINED, comment, user, _today()
    f._history_user = user
    f.save()
    return f


def record_progress(f: Fppe, user: Any, cases: int = 1) -> Fppe:
    _check_chair(f, user)
    if f.status != FppeStatus.ACTIVE:
        raise InputError("progress is recorded on an active FPPE")
    if cases < 1:
        raise InputError("at least one case")
    f.cases_reviewed += cases
    f._history_user = user
    f.save(update_fields=["cases_reviewed"])
    return f


def close_fppe(f: Fppe, user: Any, outcome: str, comment: str, *, extend_cases: int = 0) -> Fppe:
    """Complete an active FPPE. Satisfactory: privileges continue (a new privilege's FPPE is
    recorded as done in the staff module); extend: more cases; restrict / revoke: a privilege
    change requested in the staff module, through its approval states (hold → office)."""
    from cmo.staff import interface as staff

    _check_chair(f, user)
    if f.status != FppeStatus.ACTIVE:
        raise InputError("only an active FPPE can be completed")
    if outcome not in Outcome.values:
        raise InputError("choose an outcome")
    if not comment.strip():
        raise InputError("a comment is required with the outcome")
    with transaction.atomic():
        f.outcome, f.comment, f.decided_by = outcome, comment, user
        f._history_user = user
        if outcome == str(Outcome.EXTEND):
            if extend_cases < 1:
                raise InputError("an extension adds at least one case")
            f.cases_required = (f.cases_required or f.cases_reviewed) + extend_cases
            f.save()
            return f
        f.status, f.closed_on = FppeStatus.CLOSED, _today()
        f.save()
        if f.grant_id is not None and outcome == str(Outcome.SATISFACTORY):
            staff.record_fppe_outcome(
                f.grant_id, f"FPPE completed {f.closed_on}: satisfactory", user=user
            )
        if outcome in (str(Outcome.RESTRICT), str(Outcome.REVOKE)):
            staff.request_privilege_change(
                f.practitioner_id,
                action=str(outcome),
                reason=f"FPPE #{f.pk} ({f.get_trigger_display().lower()}): {comment}",
                grant_ids=[f.grant_id] if f.grant_id is not None else None,
            )
    return f


# ---------------------------------------------------------------- peer review


def open_case(
    practitioner: Practitioner | None,
    *,
    source: str,
    key: str,
    concern: str,
    stay_id: str = "",
    patient_id: str = "",
    opened_on: date | None = None,
) -> PeerCase:
    """A case from a referral; a referral already known returns its case, and an open case of
    the same practitioner and stay absorbs a new referral (duplicates merged)."""
    # JSON containment lookups are not portable to SQLite: the referral keys are matched here.
    for c in PeerCase.objects.all():
        if key in c.sources:
            found: PeerCase = c.merged_into or c
            return found
    pid = practitioner.pk if practitioner is not None else None
    if stay_id:
        for c in PeerCase.objects.filter(stay_id=stay_id, practitioner_id=pid).exclude(
            status__in=[CaseStatus.CLOSED, CaseStatus.MERGED]
        ):
            c.sources = [*c.sources, key]
            c.concern = f"{c.concern}\n\nAlso referred ({source}): {concern}"
            c.save(update_fields=["sources", "concern"])
            same: PeerCase = c
            return same
    new: PeerCase = PeerCase.objects.create(
        practitioner=practitioner,
        department=primary_department(practitioner) if practitioner else None,
        source=source,
        sources=[key],
        stay_id=stay_id,
        patient_id=patient_id,
        concern=concern,
        opened_on=opened_on or _today(),
    )
    return new


def merge(dup: PeerCase, into: PeerCase, user: Any) -> None:
    """Merge a duplicate case into another (its referrals move with it)."""
    if dup.pk == into.pk:
        raise InputError("a case cannot be merged into itself")
    into.sources = [*into.sources, *(k for k in dup.sources if k not in into.sources)]
    into.save(update_fields=["sources"])
    dup.status, dup.merged_into = CaseStatus.MERGED, into
    dup._history_user = user
    dup.save()


def intake_referrals() -> list[PeerCase]:
    """Safety events routed to peer review (``cmo.safety.interface``) become cases; each
    referral is acknowledged once its case exists."""
    from cmo.safety.interface import mark_received, referrals_for_review

    cases = []
    for r in referrals_for_review():
        p = _practitioner(r.practitioner_code) if r.practitioner_code else None
        cases.append(
            open_case(
                p,
                source=str(CaseSource.SAFETY),
                key=f"safety-referral:{r.referral_id}",
                concern=f"{r.concern} (safety event {r.event_reference}, {r.event_type}, "
                f"harm {r.harm})",
                stay_id=r.stay_id or "",
                patient_id=r.patient_id or "",
                opened_on=timezone.localdate(r.created_at),
            )
        )
        mark_received(r.referral_id)
    return cases


def intake_deaths(start: date, end: date, *, opened_on: date | None = None) -> list[PeerCase]:
    """Mortality review: every in-hospital death discharged in [start, end) opens a case for
    its attending (once per stay), opened on the intake day (the referral date)."""
    from cmo.review.warehouse import deaths

    cases = []
    for d in deaths(start, end):
        p = _practitioner(str(d["attending_id"])) if d.get("attending_id") else None
        cases.append(
            open_case(
                p,
                source=str(CaseSource.MORTALITY),
                key=f"death:{d['stay_id']}",
                concern="In-hospital death: mortality review",
                stay_id=str(d["stay_id"]),
                patient_id=str(d["patient_id"]),
                opened_on=opened_on or _today(),
            )
        )
    return cases


def intake_random(
    start: date, end: date, n: int, *, seed: int, opened_on: date | None = None
) -> list[PeerCase]:
    """A random sample of ``n`` stays discharged in [start, end) for peer review (the
    committee's routine sample, not prompted by any concern). Reproducible: the same seed and
    period draw the same stays; a stay already sampled is not drawn twice."""
    import random

    from cmo.review.warehouse import stays

    if n < 1:
        raise InputError("the sample needs at least one stay")
    frame = stays(start, end)
    chosen = random.Random(seed).sample(frame, min(n, len(frame)))
    return [
        open_case(
            _practitioner(str(r["attending_id"])),
            source=str(CaseSource.RANDOM),
            key=f"random:{r['stay_id']}",
            concern=f"Random sample of stays discharged {start} to {end} (seed {seed})",
            stay_id=str(r["stay_id"]),
            patient_id=str(r["patient_id"]),
            opened_on=opened_on or _today(),
        )
        for r in chosen
    ]


def conflict_reason(case: PeerCase, reviewer: Practitioner) -> str | None:
    """Why ``reviewer`` may not review ``case`` (:func:`rules.conflict`), or None."""
    pid = case.practitioner_id
    depts = _departments_of([reviewer.pk] + ([pid] if pid else []))
    declared = set(
        Conflict.objects.filter(reviewer=reviewer).values_list("reviewer_id", "practitioner_id")
    )
    return rules.conflict(
        reviewer.pk,
        pid,
        reviewer_departments=depts.get(reviewer.pk, set()),
        practitioner_departments=depts.get(pid, set()) if pid else set(),
        declared=declared,
        exclude_same_department=bool(setting("REVIEW_EXCLUDE_SAME_DEPARTMENT", False)),
    )


def assign(case: PeerCase, reviewer: Practitioner, user: Any) -> Assignment:
    if case.status not in (CaseStatus.OPEN, CaseStatus.REVIEW):
        raise InputError("reviewers are assigned to open cases")
    why = conflict_reason(case, reviewer)
    if why:
        raise InputError(why)
    a: Assignment = Assignment.objects.get_or_create(case=case, reviewer=reviewer)[0]
    case.status = CaseStatus.REVIEW
    case._history_user = user
    case.save()
    return a


def submit_score(
    a: Assignment, user: Any, *, score: int, attribution: str, competency: str, comment: str
) -> Assignment:
    """The reviewer's scoring; once every reviewer has scored, the case goes to committee."""
    if score not in Score.values:
        raise InputError("the score is 1 to 4")
    if attribution not in Attribution.values:
        raise InputError("say whether the issue is the practitioner's, the system's, both or none")
    a.score, a.attribution, a.competency, a.comment = score, attribution, competency, comment
    a.submitted_at = _now()
    a._history_user = user
    a.save()
    case = a.case
    if not case.assignments.filter(submitted_at__isnull=True).exists():
        case.status = CaseStatus.COMMITTEE
        case._history_user = user
        case.save()
    return a


def committee_decision(
    case: PeerCase,
    user: Any,
    *,
    score: int,
    attribution: str,
    competency: str,
    decision: str,
    system_issue: str = "",
) -> PeerCase:
    """The committee's decision closes the case. A major opportunity (score 4) attributed to
    the practitioner proposes an FPPE to the chair; a system issue goes to the safety queue as
    an unsafe condition to triage (``cmo.safety.interface.queue_system_issue``: its text only,
    no patient or practitioner, so the peer-review privilege holds)."""
    if case.status != CaseStatus.COMMITTEE:
        raise InputError("the committee decides cases that reached it")
    if score not in Score.values or attribution not in Attribution.values:
        raise InputError("score 1-4 and an attribution are required")
    if not decision.strip():
        raise InputError("record the committee's decision")
    if attribution in (str(Attribution.SYSTEM), str(Attribution.BOTH)) and not system_issue.strip():
        raise InputError("describe the system issue for the safety module")
    with transaction.atomic():
        case.score, case.attribution, case.competency = score, attribution, competency
        case.decision, case.system_issue = decision, system_issue
        case.decided_on = case.closed_on = _today()
        case.status = CaseStatus.CLOSED
        if system_issue.strip():
            from cmo.safety.interface import queue_system_issue

            ref = queue_system_issue(system_issue.strip(), found_by=f"peer review case {case.pk}")
            case.system_issue = f"{system_issue.strip()} (safety event {ref})"
        case._history_user = user
        case.save()
        practitioner_issue = attribution in (str(Attribution.PRACTITIONER), str(Attribution.BOTH))
        if score == MAJOR and practitioner_issue and case.practitioner is not None:
            key = f"case:{case.pk}"
            if not Fppe.objects.filter(key=key).exists():
                Fppe.objects.create(
                    practitioner=case.practitioner,
                    department=case.department,
                    trigger=Trigger.PEER_REVIEW,
                    key=key,
                    evidence={"case": case.pk, "score": score, "decision": decision},
                )
    return case


def overdue(case: PeerCase, today: date) -> str | None:
    return rules.case_overdue(
        case.opened_on,
        case.status,
        today,
        committee_days=int(setting("REVIEW_COMMITTEE_DAYS", rules.COMMITTEE_DAYS)),
        closure_days=int(setting("REVIEW_CLOSURE_DAYS", rules.CLOSURE_DAYS)),
    )


# ---------------------------------------------------------------- board counts


def board_counts(start: date, end: date) -> dict[str, Any]:
    """Counts for the board over [start, end]: no names, no ids (docs/review.md)."""
    today = min(end, _today())
    profiles = OppeProfile.objects.filter(due__gte=start, due__lte=end).select_related("department")
    by_dept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    on_time = 0
    for pr in profiles:
        name = pr.department.name if pr.department else "No department"
        by_dept[name][0] += 1
        if pr.decided_at is not None:
            by_dept[name][1] += 1
            on_time += int(timezone.localdate(pr.decided_at) <= pr.due)
    fppe = Fppe.objects.exclude(status=FppeStatus.PROPOSED)
    opened = fppe.filter(opened__gte=start, opened__lte=end).count()
    closed = Fppe.objects.filter(
        status=FppeStatus.CLOSED, closed_on__gte=start, closed_on__lte=end
    ).count()
    open_now = Fppe.objects.filter(status=FppeStatus.ACTIVE, opened__lte=end).count()
    cases = PeerCase.objects.exclude(status=CaseStatus.MERGED)
    closed_cases = list(cases.filter(closed_on__gte=start, closed_on__lte=end))
    days = [(c.closed_on - c.opened_on).days for c in closed_cases if c.closed_on]
    overdue_n = sum(
        1 for c in cases.exclude(status=CaseStatus.CLOSED) if overdue(c, today) is not None
    )
    return {
        "oppe_due": profiles.count(),
        "oppe_done_on_time": on_time,
        "oppe_completion": [
            {"department": k, "due": v[0], "done": v[1]} for k, v in sorted(by_dept.items())
        ],
        "fppe_open": open_now,
        "fppe_opened": opened,
        "fppe_closed": closed,
        "peer_review_opened": cases.filter(opened_on__gte=start, opened_on__lte=end).count(),
        "peer_review_closed": len(closed_cases),
        "peer_review_overdue": overdue_n,
        "peer_review_median_days": float(statistics.median(days)) if days else None,
    }
