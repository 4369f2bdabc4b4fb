"""Access logging of the safety app, and the one exception: an anonymous reporter's lookup."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser

from cmo.web.audit import log_access


class _NoTrace:
    """The parts of a request the access log reads, without the client's address or user:
    the log row of an anonymous report's patient lookup must not point back at the reporter."""

    META: dict[str, str] = {}

    def __init__(self, path: str) -> None:
        self.path = path

    def get_full_path(self) -> str:
        return self.path


def log_lookup(request: Any, patient_id: str, *, anonymous: bool, via: str = "web") -> None:
    """The patient looked up for a report: logged as always, but for an anonymous report with
    neither user nor address (the row still says which patient's data was read, and when)."""
    filters = {"view": "safety report: patient lookup"}
    if anonymous:
        log_access(
            _NoTrace(request.path),
            filters=filters,
            patient_ids=[patient_id],
            via=via,
            user=AnonymousUser(),
        )
    else:
        log_access(request, filters=filters, patient_ids=[patient_id], via=via)


def log_events(
    request: Any, view: str, events: list[Any], via: str = "web", **filters: Any
) -> None:
    """A view of event data: who saw which events' patients."""
    log_access(
        request,
        filters={"view": view, **filters},
        patient_ids=[e.patient_id for e in events],
        via=via,
    )
