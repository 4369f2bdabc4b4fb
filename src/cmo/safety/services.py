"""What happens to an event: reported, classified (clocks start), routed, merged, closed.

Pages and API call these, so a rule holds whichever door the data came through. Transitions
set ``_history_user`` to the staff member acting, so simple-history keeps who did what; the
creation of an anonymous report keeps no user and only the hour of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

from django.db import transaction
from django.utils import timezone

from cmo.directory.models import Department, Practitioner, Site, Unit
from cmo.safety import clocks
from cmo.safety import models as m
from cmo.safety.warehouse import PatientLink

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _atomic(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``transaction.atomic`` as a decorator, typed: Django ships no annotations."""
    return cast(Callable[_P, _R], transaction.atomic(func))


def _report_time(anonymous: bool) -> datetime:
    """Now; to the hour for an anonymous report, so its time cannot be matched to a login."""
    now: datetime = timezone.now()
    return now.replace(minute=0, second=0, microsecond=0) if anonymous else now


def _department(link: PatientLink | None, practitioners: list[Practitioner]) -> Department | None:
    """The stay's department if the report links one, else the first involved practitioner's
    current primary department (a chair's scope follows it)."""
    if link and link.stay_id:
        from cmo.safety.warehouse import stay_department

        code = stay_department(link.stay_id)
        found: Department | None = Department.objects.filter(code=code).first() if code else None
        if found:
            return found
    for p in practitioners:
        ms = p.memberships.filter(end__isnull=True).order_by("-primary").first()
        if ms:
            department: Department = ms.department
            return department
    return None


@_atomic
def create_report(
    data: dict[str, Any],
    *,
    user: Any,
    link: PatientLink | None,
    source: str = "report",
) -> m.Event:
    """Save a report; ``data`` holds the report form's cleaned fields."""
    anonymous = bool(data.get("anonymous"))
    practitioners = list(data.get("practitioners") or [])
    unit: Unit | None = data.get("unit")
    if unit is None and link and link.unit_code:
        unit = Unit.objects.filter(code=link.unit_code).first()
    site: Site | None = unit.site if unit else None
    if site is None and link and link.site_code:
        site = Site.objects.filter(code=link.site_code).first()
    event = m.Event(
        source=source,
        reporter=None if anonymous else user,
        anonymous=anonymous,
        reported_at=_report_time(anonymous),
        event_type=data["event_type"],
        category=data["category"],
        harm=data.get("harm") or "",
        merp=data.get("merp") or "",
        occurred_at=data["occurred_at"],
        site=site,
        unit=unit,
        department=_department(link, practitioners),
        location_detail=data.get("location_detail") or "",
        patient_id=link.patient_id if link else "",
        stay_id=link.stay_id if link else "",
        description=data["description"],
    )
    if anonymous:
        # Explicitly no history user (simple-history would otherwise take request.user if its
        # request middleware were ever installed), and only the hour of the report.
        event._history_user = None  # type: ignore[attr-defined]
        event._history_date = event.reported_at  # type: ignore[attr-defined]
    event.save()
    event.practitioners.set(practitioners)
    return event


def _save(event: m.Event, by: Any) -> None:
    event._history_user = by  # type: ignore[attr-defined]
    event.save()


@_atomic
def classify(
    event: m.Event, *, sre: str, sentinel: bool, department: Department | None, by: Any
) -> m.Event:
    """Triage: an NQF serious reportable event or TJC sentinel event starts the clocks (once:
    reclassifying does not restart them)."""
    event.sre, event.sentinel = sre, sentinel
    if department is not None:
        event.department = department
    if event.serious and not event.classified_at:
        clocks.start_clocks(event, timezone.now())
    if event.status == m.Status.NEW:
        event.status = m.Status.TRIAGED
    _save(event, by)
    return event


# Routes as the stored str values. TextChoices members are str at runtime, but Django ships no
# annotations and mypy types each member as its (value, label) tuple: an un-cast ``route in
# (m.Route.SYSTEM, ...)`` is a comparison mypy rejects.
OPENS_INVESTIGATION = cast("tuple[str, ...]", (m.Route.SYSTEM, m.Route.BOTH))
OPENS_REFERRAL = cast("tuple[str, ...]", (m.Route.INDIVIDUAL, m.Route.BOTH))


@_atomic
def route(
    event: m.Event,
    *,
    route: str,
    reason: str,
    practitioner: Practitioner | None,
    concern: str,
    by: Any,
) -> m.Referral | None:
    """Just-culture routing. System causes open the RCA² investigation; an individual concern
    files a peer-review referral; ``both`` does both, and only when chosen as such."""
    event.route, event.route_reason = route, reason
    referral = None
    if route in OPENS_INVESTIGATION:
        m.Investigation.objects.get_or_create(event=event)
        event.status = m.Status.INVESTIGATING
    elif event.status == m.Status.NEW:
        event.status = m.Status.TRIAGED
    if route in OPENS_REFERRAL:
        referral = m.Referral.objects.create(
            event=event, practitioner=practitioner, concern=concern, created_by=by
        )
    _save(event, by)
    return referral


@_atomic
def merge(duplicate: m.Event, into: m.Event, *, by: Any) -> None:
    """De-duplication: the duplicate points at the surviving report and leaves the queue; its
    practitioners and patient link are added to the survivor if it lacks them."""
    if duplicate.pk == into.pk:
        raise ValueError("a report cannot be merged into itself")
    into.practitioners.add(*duplicate.practitioners.all())
    if not into.patient_id and duplicate.patient_id:
        into.patient_id, into.stay_id = duplicate.patient_id, duplicate.stay_id
        _save(into, by)
    duplicate.merged_into = into
    duplicate.status = m.Status.MERGED
    _save(duplicate, by)


@_atomic
def close(event: m.Event, *, message: str, by: Any) -> None:
    """Close with the message the reporter reads (the feedback loop); duplicates merged into
    this event close with it, so their reporters hear back too."""
    for e in [event, *event.duplicates.all()]:
        e.closing_message = message
        e.closed_at = timezone.now()
        if e.pk == event.pk:
            e.status = m.Status.CLOSED
        _save(e, by)


def team_saved(inv: m.Investigation) -> None:
    """The 72-hour clock stops when the team first has a member."""
    if inv.members and not inv.team_formed_at:
        inv.team_formed_at = timezone.now()
    inv.save()


# FHIR AdverseEvent.actuality (R4): actual -> incident, potential -> near miss.
ACTUALITY = {"actual": m.Category.INCIDENT, "potential": m.Category.NEAR_MISS}
# AdverseEvent.seriousness (adverse-event-seriousness) -> AHRQ harm, conservatively.
SERIOUSNESS = {"serious": m.Harm.MODERATE, "non-serious": m.Harm.MILD}


# AdverseEvent.event codes -> the Common Formats event type: SNOMED CT 217082002 "Accidental
# fall", 399912005 "Pressure ulcer"; ICD-10-CM by category (W00-W19 falls, L89 pressure ulcer).
EVENT_TYPES = {
    ("http://snomed.info/sct", "217082002"): m.EventType.FALL,
    ("http://snomed.info/sct", "399912005"): m.EventType.PRESSURE,
}
ICD_PREFIXES = (("W0", m.EventType.FALL), ("W1", m.EventType.FALL), ("L89", m.EventType.PRESSURE))


def ehr_event_type(system: str | None, code: str | None) -> str:
    """The event type an AdverseEvent's code says, by its code system; else ``other`` (left
    for triage)."""
    found = EVENT_TYPES.get((system or "", code or ""))
    if found is None and system == "http://hl7.org/fhir/sid/icd-10-cm":
        found = next((t for p, t in ICD_PREFIXES if (code or "").startswith(p)), None)
    return str(found or m.EventType.OTHER)


def import_ehr_events(rows: list[dict[str, Any]]) -> int:
    """Create queue events from ``fhir__adverse_event`` rows (once per AdverseEvent id);
    returns how many were new. Type and location are left for triage when the EHR's codes do
    not say them; the department is the stay's (``department_id``, added by the sync's reader)
    or the unit's."""
    known = set(m.Event.objects.filter(ehr_id__isnull=False).values_list("ehr_id", flat=True))
    units = {u.code: u for u in Unit.objects.select_related("site")}
    departments = {d.code: d for d in Department.objects.all()}
    made = 0
    for r in rows:
        if r["id"] in known:
            continue
        when = r.get("date_ts") or r.get("detected_ts") or r.get("recorded_date_ts")
        if when is None:
            continue
        when = _aware(when)
        category = ACTUALITY.get(r.get("actuality") or "", m.Category.INCIDENT)
        text = r.get("event_display") or r.get("event_text") or "EHR adverse event"
        unit = units.get(r.get("location_id") or "")
        m.Event.objects.create(
            source=m.Source.EHR,
            reported_at=_aware(r.get("recorded_date_ts") or when),
            event_type=ehr_event_type(r.get("event_system"), r.get("event_code")),
            category=category,
            harm=SERIOUSNESS.get(r.get("seriousness_code") or "", m.Harm.UNKNOWN)
            if category == m.Category.INCIDENT
            else m.Harm.NONE,
            occurred_at=when,
            unit=unit,
            site=unit.site if unit else None,
            department=departments.get(r.get("department_id") or ""),
            patient_id=r.get("subject_id") or "",
            stay_id=r.get("encounter_id") or "",
            description=f"EHR AdverseEvent {r['id']}: {text}",
            ehr_id=r["id"],
        )
        known.add(r["id"])
        made += 1
    return made


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if timezone.is_naive(when) else when
