"""Safety endpoints (/api/safety/): report an event (any signed-in role, session or token: an
EHR "report an event" button), read one's own, list the queue (safety roles, chairs scoped).

The report runs through the same form as the page, so the API accepts exactly what the page
accepts and rejects with the same messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from ninja.errors import HttpError

from cmo.directory.models import Practitioner, Unit
from cmo.safety import forms, scope, services
from cmo.safety import models as m
from cmo.safety.apps import REPORT
from cmo.safety.audit import log_events, log_lookup

router = Router(tags=["safety"])


class EventIn(Schema):
    event_type: str
    category: str
    harm: str = ""
    merp: str = ""
    occurred_at: datetime
    unit: str  # directory Unit code (the warehouse Location id)
    location_detail: str = ""
    practitioners: list[str] = []  # directory Practitioner codes
    mrn: str = ""
    encounter: str = ""
    description: str
    anonymous: bool = False


class EventOut(Schema):
    reference: str
    id: int
    source: str
    event_type: str
    category: str
    harm: str
    merp: str
    occurred_at: datetime
    reported_at: datetime
    unit: str | None = None
    status: str
    closing_message: str = ""


class Problems(Schema):
    errors: dict[str, list[str]]


def _out(e: m.Event) -> dict[str, Any]:
    return {
        "reference": e.reference,
        "id": e.pk,
        "source": e.source,
        "event_type": e.event_type,
        "category": e.category,
        "harm": e.harm,
        "merp": e.merp,
        "occurred_at": e.occurred_at,
        "reported_at": e.reported_at,
        "unit": e.unit.code if e.unit else None,
        "status": e.status,
        "closing_message": e.closing_message,
    }


def _form_data(payload: EventIn) -> dict[str, Any]:
    unit = Unit.objects.filter(code=payload.unit).values_list("pk", flat=True).first()
    pracs = list(
        Practitioner.objects.filter(code__in=payload.practitioners).values_list("pk", flat=True)
    )
    if len(pracs) != len(set(payload.practitioners)):
        raise HttpError(422, "unknown practitioner code(s)")
    lookup = ("encounter", payload.encounter) if payload.encounter else ("mrn", payload.mrn)
    return {
        "event_type": payload.event_type,
        "category": payload.category,
        "harm": payload.harm,
        "merp": payload.merp,
        "occurred_at": payload.occurred_at.strftime("%Y-%m-%d %H:%M"),
        "unit": unit or "",
        "location_detail": payload.location_detail,
        "practitioners": pracs,
        "lookup_kind": lookup[0],
        "lookup_value": lookup[1],
        "description": payload.description,
        "anonymous": payload.anonymous,
    }


@router.post("/events", response={201: EventOut, 200: dict, 422: Problems})
def create_event(request: Any, payload: EventIn) -> Any:
    """Report an event. An anonymous report answers without its reference: nothing links it
    back to the caller."""
    if not scope.can(request.user, REPORT):
        raise HttpError(403, "no permission to report")
    form = forms.ReportForm(data=_form_data(payload))
    if not form.is_valid():
        return Status(422, {"errors": {k: list(v) for k, v in form.errors.items()}})
    if form.link is not None:
        log_lookup(request, form.link.patient_id, anonymous=payload.anonymous, via="api")
    event = services.create_report(
        form.cleaned_data, user=request.user, link=form.link, source=str(m.Source.API)
    )
    if payload.anonymous:
        return Status(200, {"received": True})
    return Status(201, _out(event))


@router.get("/events/{event_id}", response=EventOut)
def read_event(request: Any, event_id: int) -> Any:
    """One event the caller may see (their own report, or by their safety role)."""
    e = scope.visible_events(request.user).select_related("unit").filter(pk=event_id).first()
    if e is None:
        raise HttpError(404, "no such event, or not yours to read")
    log_events(request, "safety event", [e], via="api", event=e.reference)
    return _out(e)


@router.get("/queue", response=list[EventOut])
def list_queue(request: Any, include_closed: bool = False) -> Any:
    """Open events by severity then age (safety officer and CMO: all; chairs: their
    departments')."""
    qs = scope.queue_events(request.user)
    if qs is None:
        raise HttpError(403, "the queue is for safety roles")
    if not include_closed:
        qs = qs.exclude(status__in=[m.Status.CLOSED, m.Status.MERGED])
    events = sorted(
        qs.select_related("unit")[:1000],
        key=lambda e: (m.HARM_RANK[e.harm], not e.serious, e.reported_at),
    )
    log_events(request, "safety queue", events, via="api")
    return [_out(e) for e in events]
