"""The safety domain's half of the sync (``Domain.sync``): the EHR's AdverseEvents that
``cmo.measures.safety.read`` found in the warehouse join the triage queue, each once."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from cmo.safety.services import import_ehr_events


def apply_payload(rows: dict[str, Any]) -> str:
    """Import the AdverseEvents not yet in the queue (one transaction); a one-line summary."""
    events = rows.get("adverse_events", [])
    with transaction.atomic():
        made = import_ehr_events(events)
    return f"{made} new EHR adverse event(s) queued ({len(events)} in the warehouse)"
