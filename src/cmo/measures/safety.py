"""The safety domain's rows as the warehouse sees them: the EHR's FHIR ``AdverseEvent`` records,
for the web's safety sync (``cmo.safety.sync.apply_payload``), which puts each one in the
triage queue once as an EHR-sourced event.

Each row is an ``fhir__adverse_event`` row with the department of its stay
(``core__inpatient_stay.department_id`` via ``encounter_id``) added, so the event is scoped to
the right chair. Nothing here imports Django: the rows are dicts of str / datetime / None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

Row = dict[str, Any]
COLUMNS = (
    "id",
    "actuality",
    "event_code",
    "event_system",
    "event_display",
    "event_text",
    "subject_id",
    "encounter_id",
    "date_ts",
    "detected_ts",
    "recorded_date_ts",
    "location_id",
    "seriousness_code",
)


@dataclass
class SafetyRows:
    adverse_events: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"adverse_events": len(self.adverse_events)}


def read(wh: Warehouse) -> SafetyRows:
    """Every AdverseEvent of the warehouse (empty when the export had none)."""
    if not wh.exists("fhir__adverse_event"):
        return SafetyRows()
    ae = wh.table("fhir__adverse_event")
    ae = ae.select(*[c for c in COLUMNS if c in ae.columns])
    if wh.exists("core__inpatient_stay"):
        stays = wh.table("core__inpatient_stay").select("stay_id", "department_id")
        ae = ae.left_join(stays, ae.encounter_id == stays.stay_id).drop("stay_id")
    return SafetyRows(ae.order_by("id").to_pyarrow().to_pylist())
