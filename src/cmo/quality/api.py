"""Quality endpoints of the API: measures, results, signals and (logged) patient-level rows."""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from ninja import Router, Schema
from ninja.errors import HttpError

from cmo.quality.apps import DASHBOARD, PATIENTS, PRACTITIONERS
from cmo.quality.views import DRILL_LIMIT, practitioners_of, scoped_long_rows
from cmo.web import results
from cmo.web.audit import log_access
from cmo.web.results import NoResults
from cmo.web.roles import departments_of, perm

router = Router(tags=["quality"])
Level = Literal["system", "site", "department", "unit", "practitioner"]
PeriodType = Literal["month", "quarter", "year"]


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


def _need(request: Any, capability: str) -> None:
    if not request.user.has_perm(perm(capability)):
        raise HttpError(403, f"your role lacks {capability}")


DATE_KEYS = ("period_start", "period_month", "discharge_date", "evidence_date", "admit_date")


def _clean(row: dict[str, Any]) -> dict[str, Any]:
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


def _call(function: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return results.call(function, *args, **kwargs)
    except NoResults as exc:
        raise HttpError(503, f"{exc} {exc.hint}") from exc


@router.get("/measures", response=list[Measure], summary="Measure definitions")
def measures(request: Any) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    return [_clean(m) for m in _call("list_measures")]


@router.get(
    "/measures/{measure_id}/results",
    response=list[Result],
    summary="Results by measure × period × level",
)
def measure_results(
    request: Any,
    measure_id: str,
    period_type: PeriodType = "month",
    level: Level = "system",
    unit_id: str | None = None,
    site_id: str | None = None,
) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    if level == "practitioner":
        _need(request, PRACTITIONERS)
    rows = _call(
        "results",
        measure_id,
        period_type=period_type,
        level=level,
        unit_id=unit_id,
        site_id=site_id,
    )
    scope = departments_of(request.user)
    if level == "practitioner" and scope is not None:  # a chair: their departments' doctors
        mine = practitioners_of(measure_id, None, scope)
        rows = [r for r in rows if str(r["unit_id"]) in mine]
    return [_clean(r) for r in rows]


@router.get("/signals", response=list[Signal], summary="Current and past signals")
def signals(request: Any, site_id: str | None = None) -> list[dict[str, Any]]:
    _need(request, DASHBOARD)
    rows = [_clean(r) for r in _call("signals", site_id=site_id)]
    if not request.user.has_perm(perm(PRACTITIONERS)):
        rows = [r for r in rows if r.get("level") != "practitioner"]
    scope = departments_of(request.user)
    if scope is not None:  # a chair: practitioner signals of their departments' doctors only
        rows = [
            r
            for r in rows
            if r.get("level") != "practitioner"
            or str(r.get("unit_id")) in practitioners_of(str(r["measure_id"]), None, scope)
        ]
    return rows


@router.get(
    "/measures/{measure_id}/long",
    response=list[LongRow],
    summary="Patient-level rows (access-logged)",
)
def long(
    request: Any,
    measure_id: str,
    period_type: PeriodType | None = None,
    period_start: date | None = None,
    level: Level | None = None,
    unit_id: str | None = None,
    limit: int = DRILL_LIMIT,
) -> list[dict[str, Any]]:
    _need(request, PATIENTS)
    if not 1 <= limit <= 5000:
        raise HttpError(422, "limit must be between 1 and 5000")
    params = {
        "period_type": period_type,
        "period_start": period_start,
        "level": level,
        "unit_id": unit_id,
    }
    try:
        rows = scoped_long_rows(request.user, measure_id, params, limit)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or "forbidden") from exc
    except NoResults as exc:
        raise HttpError(503, f"{exc} {exc.hint}") from exc
    log_access(
        request,
        filters={"measure_id": measure_id, **params, "limit": limit},
        patient_ids=[r.get("patient_id") for r in rows],
        via="api",
    )
    return [_clean(r) for r in rows]
