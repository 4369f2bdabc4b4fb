"""Quality endpoints of the API: measures, results, signals and (logged) patient-level rows.

Every parameter is declared with its bounds (length, characters, range), so django-ninja
rejects a bad one with 422 before any read, and the OpenAPI schema (/api/openapi.json) states
them with the 400/403/404/422/503 answers. Reads go through the typed doors of
``cmo.quality.reads``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from ninja import Path, Query, Router, Schema
from ninja.errors import HttpError

from cmo.measures.api import Level, PeriodType
from cmo.quality import reads
from cmo.quality.apps import DASHBOARD, PATIENTS, PRACTITIONERS
from cmo.quality.forms import FIRST_DATE, LAST_DATE
from cmo.quality.reads import NoResults
from cmo.quality.views import DRILL_LIMIT, practitioners_of, scoped_long_rows
from cmo.web.audit import log_access, log_event
from cmo.web.roles import perm
from cmo.web.scope import scope_of

router = Router(tags=["quality"])
# FHIR R4 datatype ``id`` (unit, site and practitioner ids; measure ids are shorter still).
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
MAX_LIMIT = 5000
Id = Annotated[str, Path(max_length=64, pattern=FHIR_ID)]
OptionalId = Annotated[str | None, Query(max_length=64, pattern=FHIR_ID)]
Start = Annotated[date | None, Query(ge=FIRST_DATE, le=LAST_DATE)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT} rows")]


class Message(Schema):
    """An error: what was wrong (django-ninja's ``{"detail": ...}``)."""

    detail: Any


class Measure(Schema):
    measure_id: str
    version: str | None = None
    title: str
    description: str | None = None
    unit_of_analysis: str | None = None
    method: str | None = None
    citation: str | None = None
    direction: str | None = None
    target: float | None = None
    kind: str | None = None
    risk_adjusted: bool | None = None
    unit: str | None = None


class Result(Schema):
    measure_id: str
    period_type: str
    period_start: date
    level: str
    unit_id: str
    unit_name: str | None = None
    denominator: int
    numerator: float | None = None
    rate: float | None = None
    expected: float | None = None
    oe: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rsr: float | None = None


class Signal(Schema):
    measure_id: str
    level: str
    unit_id: str
    unit_name: str | None = None
    period_start: date | None = None
    kind: str
    direction: str | None = None
    detail: str | None = None
    current: bool | None = None  # in the last 3 complete months (the build decides)


class Diagnosis(Schema):
    code: str
    display: str | None = None
    poa: str | None = None  # present on admission: y, n, u, w (CMS ICD-10-CM Appendix I)


class LongRow(Schema):
    measure_id: str
    stay_id: str
    patient_id: str | None = None
    period_month: date | None = None
    discharge_date: date | None = None
    admit_date: date | None = None
    site_id: str | None = None
    department_id: str | None = None
    unit_id: str | None = None
    practitioner_id: str | None = None
    in_population: bool | None = None
    excluded: bool | None = None
    exclusion_reason: str | None = None
    outcome: float | None = None
    expected: float | None = None
    evidence_date: date | None = None
    principal_dx: str | None = None  # undotted ICD-10-CM, as in core__inpatient_stay
    principal_dx_display: str | None = None
    secondary_dx: list[Diagnosis] = []
    # The patient: medical record number (Patient.identifier typed HL7 v2-0203 MR), age at
    # admission, FHIR administrative gender.
    mrn: str | None = None
    age: int | None = None
    sex: str | None = None


def _need(request: Any, capability: str) -> None:
    if not request.user.has_perm(perm(capability)):
        if getattr(request.user, "is_authenticated", False):
            log_event(request, "denied", via="api", reason=f"lacks {capability}")
        raise HttpError(403, f"your role lacks {capability}")


DATE_KEYS = ("period_start", "period_month", "discharge_date", "evidence_date", "admit_date")
ERRORS: dict[int, Any] = {
    400: Message,
    401: Message,
    403: Message,
    404: Message,
    422: Message,
    503: Message,
}


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif hasattr(v, "date") and callable(v.date) and k in DATE_KEYS:
            v = v.date()
        elif hasattr(v, "item"):
            v = v.item()
        out[k] = v
    return out


def _unavailable(exc: NoResults) -> HttpError:
    return HttpError(503, f"{exc} {exc.hint}")


def _known(measure_id: str) -> None:
    """404 for a measure the build does not have (not an empty 200)."""
    if reads.measure(measure_id) is None:
        raise HttpError(404, f"no measure {measure_id!r}")


def _known_unit(level: str | None, unit_id: str | None) -> None:
    """404 for a unit (site, department, unit, practitioner) with no results in the build."""
    if unit_id is None or level in (None, "system"):
        return
    if unit_id not in reads.unit_names(level):  # type: ignore[arg-type]
        raise HttpError(404, f"no {level} {unit_id!r} with results")


@router.get(
    "/measures",
    response={200: list[Measure], **ERRORS},
    summary="Measure definitions",
)
def measures(request: Any) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    try:
        return [_clean(m) for m in reads.list_measures()]
    except NoResults as exc:
        raise _unavailable(exc) from exc


@router.get(
    "/measures/{measure_id}/results",
    response={200: list[Result], **ERRORS},
    summary="Results by measure × period × level",
)
def measure_results(
    request: Any,
    measure_id: Id,
    period_type: PeriodType = "month",
    level: Level = "system",
    unit_id: OptionalId = None,
    site_id: OptionalId = None,
) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    if level == "practitioner":
        _need(request, PRACTITIONERS)
    try:
        _known(measure_id)
        _known_unit(level, unit_id)
        _known_unit("site", site_id)
        rows = reads.results(
            measure_id, period_type=period_type, level=level, unit_id=unit_id, site_id=site_id
        )
        scope = scope_of(request.user).departments
        if level == "practitioner" and scope is not None:  # a chair: their departments' doctors
            mine = practitioners_of(measure_id, None, scope)
            rows = [r for r in rows if str(r["unit_id"]) in mine]
    except NoResults as exc:
        raise _unavailable(exc) from exc
    return [_clean(r) for r in rows]


@router.get("/signals", response={200: list[Signal], **ERRORS}, summary="Current and past signals")
def signals(
    request: Any, site_id: OptionalId = None, current: bool | None = None
) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    try:
        _known_unit("site", site_id)
        rows = [_clean(r) for r in reads.signals(site_id=site_id, current=current)]
        if not request.user.has_perm(perm(PRACTITIONERS)):
            rows = [r for r in rows if r.get("level") != "practitioner"]
        scope = scope_of(request.user).departments
        if scope is not None:  # a chair: practitioner signals of their departments' doctors
            rows = [
                r
                for r in rows
                if r.get("level") != "practitioner"
                or str(r.get("unit_id")) in practitioners_of(str(r["measure_id"]), None, scope)
            ]
    except NoResults as exc:
        raise _unavailable(exc) from exc
    return rows


@router.get(
    "/measures/{measure_id}/long",
    response={200: list[LongRow], **ERRORS},
    summary="Patient-level rows (access-logged)",
)
def long(
    request: Any,
    measure_id: Id,
    period_type: PeriodType | None = None,
    period_start: Start = None,
    level: Level | None = None,
    unit_id: OptionalId = None,
    limit: Limit = DRILL_LIMIT,
) -> list[dict[str, Any]]:
    _need(request, PATIENTS)
    params = {
        "period_type": period_type,
        "period_start": period_start,
        "level": level,
        "unit_id": unit_id,
    }
    try:
        _known(measure_id)
        _known_unit(level, unit_id)
        rows = scoped_long_rows(request.user, measure_id, params, limit)
        demo = reads.stay_demographics([str(r.get("stay_id")) for r in rows])
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or "forbidden") from exc
    except NoResults as exc:
        raise _unavailable(exc) from exc
    log_access(
        request,
        filters={"measure_id": measure_id, **params, "limit": limit},
        patient_ids=[r.get("patient_id") for r in rows],
        via="api",
    )
    return [_clean({**r, **_patient(demo.get(str(r.get("stay_id")), {}))}) for r in rows]


def _patient(d: Mapping[str, Any]) -> dict[str, Any]:
    """The drill-down's patient columns of a stay (``reads.stay_demographics``)."""
    age = d.get("age")
    return {
        "mrn": d.get("mrn"),
        "age": int(age) if age is not None and age == age else None,
        "sex": d.get("sex"),
    }
