"""Helpers of the safety tests (a uniquely named module, as tests/fhir/ingest_helpers.py: the
test folders are not packages, so every ``conftest`` module has the same name)."""

from __future__ import annotations

from typing import Any

from safety_sample import MRN

__all__ = ["MRN", "report_data"]


def report_data(directory: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A valid report form POST (a fall with mild harm in the ICU)."""
    data = {
        "event_type": "fall",
        "category": "incident",
        "harm": "mild",
        "merp": "",
        "occurred_at": "2026-01-05T10:30",
        "unit": directory["icu"].pk,
        "location_detail": "Bed 4",
        "description": "Patient slipped getting out of bed; bruised knee.",
        "lookup_kind": "mrn",
        "lookup_value": "",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}
