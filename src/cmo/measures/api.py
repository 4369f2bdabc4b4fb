"""Read API over the ``quality__*`` tables: what the web app may know of measure results.

Every function takes an open :class:`cmo.warehouse.Warehouse` (read-only is enough) and returns
typed rows (the ``TypedDict``s below, with ``str``/``int``/``float``/``bool``/``date``/``None``
values), so callers never touch Ibis and a type checker follows every read. Request values
reach the engine only through Ibis expressions (literals the compiler quotes), never spliced
into SQL by hand; the web validates them first (FHIR ids, dates, enumerations). A missing
table (no build yet) gives an empty answer, not an error.

The web calls these through its typed doors (``cmo.quality.reads``), which add the cache.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

PeriodType = Literal["month", "quarter", "year", "rolling12", "rolling24"]
Level = Literal["system", "site", "department", "unit", "practitioner"]
ChartLevel = Literal["system", "site", "unit"]  # unit: measures with located rows
FunnelLevel = Literal["department", "unit", "practitioner"]
FunnelWindow = Literal["year", "rolling12", "rolling24"]
# Calendar periods, and the rolling 12 and 24 months ending at the latest complete month
# (cmo.measures.results.ROLLING_PERIODS: one period each per build).
PERIOD_TYPES: tuple[PeriodType, ...] = ("month", "quarter", "year", "rolling12", "rolling24")
LEVELS: tuple[Level, ...] = ("system", "site", "department", "unit", "practitioner")
LEVEL_COLUMN = {
    "site": "site_id",
    "department": "department_id",
    "unit": "unit_id",
    "practitioner": "practitioner_id",
}
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12, "rolling12": 12, "rolling24": 24}
# A patient's medical record number: Patient.identifier whose type is HL7 v2 table 0203 code
# MR (https://terminology.hl7.org/CodeSystem-v2-0203.html), read by code system and code.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_TYPE = "MR"


class MeasureRow(TypedDict):
    """A measure's spec (``quality__measure``)."""

    measure_id: str
    version: str | None
    title: str
    description: str | None
    unit_of_analysis: str | None
    method: str | None
    citation: str | None
    direction: str | None
    target: float | None
    kind: str | None
    risk_adjusted: bool | None
    unit: str | None
    group: str | None  # spec.GROUPS key; None in a warehouse built before groups existed


class ResultRow(TypedDict):
    """One measure x period x level x unit aggregate (``quality__measure_result``)."""

    measure_id: str
    period_type: str
    period_start: date
    level: str
    unit_id: str
    unit_name: str | None
    site_id: str | None
    denominator: int
    numerator: float | None
    rate: float | None
    expected: float | None
    oe: float | None
    ci_low: float | None
    ci_high: float | None
    rsr: float | None
    median: float | None
    # Empirical-Bayes O/E with its 95% interval, and "too few to judge" (absent in a warehouse
    # built before they existed: read with .get).
    shrunk_ratio: NotRequired[float | None]
    shrunk_low: NotRequired[float | None]
    shrunk_high: NotRequired[float | None]
    small_cell: NotRequired[bool | None]
    # Device days (NHSN rates), patient days (utilisation ratios) or responders (surveys): the
    # rate's denominator when it is not ``denominator``; absent from builds before it existed.
    exposure: NotRequired[float | None]


class SignalRow(TypedDict):
    """A control-chart, funnel or CUSUM signal (``quality__signal``)."""

    measure_id: str
    level: str
    unit_id: str
    unit_name: str | None
    site_id: str | None
    period_start: date | None
    kind: str
    direction: str | None
    detail: str | None
    current: bool | None
    # Benjamini-Hochberg q of a funnel signal (None for chart and CUSUM signals), and the
    # window: 'year', 'rolling12', 'rolling24' (funnels), 'month' (charts), 'cusum'.
    q_value: NotRequired[float | None]
    window: NotRequired[str | None]


class PeriodRow(TypedDict):
    """A period of the results and whether it is complete (``quality__period``)."""

    period_type: str
    period_start: date
    period_end: date
    complete: bool
    latest_complete: bool


class ChartPoint(TypedDict):
    """One month of a control chart (``quality__chart_point``), on the measure's scale."""

    measure_id: str
    level: str
    unit_id: str
    unit_name: str | None
    site_id: str | None
    chart: str
    period_start: date
    numerator: float | None
    denominator: int
    y: float | None
    cl: float | None
    ucl: float | None
    lcl: float | None
    sigma_signal: bool
    runs_signal: bool


class FunnelPoint(TypedDict):
    """One unit of a yearly funnel (``quality__funnel_point``): O/E against its limits."""

    measure_id: str
    level: str
    unit_id: str
    unit_name: str | None
    site_id: str | None
    period_start: date
    numerator: float | None
    expected: float | None
    ratio: float | None
    target: float
    lcl_95: float | None
    ucl_95: float | None
    lcl_99_8: float | None
    ucl_99_8: float | None
    outlier_95: bool
    outlier_99_8: bool
    # cmo.measures.results.funnel_points; NotRequired: absent in older warehouses (.get).
    window: NotRequired[str]  # 'year' (calendar year), 'rolling12', 'rolling24'
    period_end: NotRequired[date]  # exclusive
    denominator: NotRequired[int]  # cases
    p_value: NotRequired[float | None]  # two-sided, under O/E = 1 (overdispersion-adjusted)
    q_value: NotRequired[float | None]  # Benjamini-Hochberg across the family's units
    shrunk_ratio: NotRequired[float | None]  # empirical-Bayes O/E
    shrunk_low: NotRequired[float | None]
    shrunk_high: NotRequired[float | None]
    small_cell: NotRequired[bool]  # < 25 cases or < 1 expected: shown, never signalled
    lookback_complete: NotRequired[bool]
    phi: NotRequired[float | None]  # overdispersion of the family
    tau2: NotRequired[float | None]


class CusumPoint(TypedDict):
    """One discharge day of a site's risk-adjusted CUSUM (``quality__cusum``): the statistic
    after the day's last stay and its highest value that day, against the limit h."""

    measure_id: str
    level: str
    unit_id: str
    unit_name: str | None
    site_id: str | None
    side: str  # 'upper' (deterioration) or 'lower' (improvement)
    day: date
    period_start: date
    cases: int
    s: float
    s_max: float
    h: float
    arl0: float
    odds_ratio: float
    alarm: bool
    reset: bool
    since: date


class Diagnosis(TypedDict):
    code: str
    display: str | None
    poa: str | None


class LongRow(TypedDict, total=False):
    """A patient-level row (``quality__measure_long``); the stay details only ``details``."""

    measure_id: str
    stay_id: str
    patient_id: str | None
    period_month: date | None
    discharge_date: date | None
    site_id: str | None
    department_id: str | None
    unit_id: str | None
    practitioner_id: str | None
    in_population: bool | None
    excluded: bool | None
    exclusion_reason: str | None
    outcome: float | None
    expected: float | None
    evidence_date: date | None
    admit_date: date | None
    principal_dx: str | None
    principal_dx_display: str | None
    secondary_dx: list[Diagnosis]


class BuildSummary(TypedDict):
    run_id: str
    started: datetime
    finished: datetime
    as_of: date | None
    seconds: float


class DataStatus(TypedDict):
    """What is in the warehouse: tables and rows, ingest runs, quarantine, the last build."""

    tables: dict[str, int]
    ingest_runs: list[dict[str, Any]]
    quarantined: int
    build_steps: list[dict[str, Any]]
    last_build: BuildSummary | None


class QuarantineRow(TypedDict, total=False):
    run_id: str
    started: datetime | None
    file: str
    line: int | None
    resource_type: str | None
    reason: str
    text: str | None


class QuarantinePage(TypedDict):
    total: int
    rows: list[QuarantineRow]


def _records(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return rows


def list_measures(wh: Warehouse) -> list[MeasureRow]:
    """Every measure's spec (``quality__measure``), ordered by id."""
    if not wh.exists("quality__measure"):
        return []
    return cast(list[MeasureRow], _records(wh.table("quality__measure").order_by("measure_id")))


def measure(wh: Warehouse, measure_id: str) -> MeasureRow | None:
    """One measure's spec, or None when the build has no measure of that id."""
    if not wh.exists("quality__measure"):
        return None
    t = wh.table("quality__measure")
    rows = _records(t.filter(t.measure_id == measure_id))
    return cast(MeasureRow, rows[0]) if rows else None


def results(
    wh: Warehouse,
    measure_id: str,
    *,
    period_type: PeriodType = "month",
    level: Level = "system",
    unit_id: str | None = None,
    site_id: str | None = None,
    period_start: date | None = None,
) -> list[ResultRow]:
    """Aggregates of one measure at one level, ordered by period then unit.

    ``unit_id`` picks one unit of the level; ``site_id`` keeps units of that site (for the site
    level, the site itself; practitioners belong to the site of most of their stays);
    ``period_start`` keeps one period.
    """
    if not wh.exists("quality__measure_result"):
        return []
    t = wh.table("quality__measure_result")
    t = t.filter((t.measure_id == measure_id) & (t.period_type == period_type) & (t.level == level))
    if unit_id is not None:
        t = t.filter(t.unit_id == unit_id)
    if site_id is not None and level != "system":
        t = t.filter(t.site_id == site_id)
    if period_start is not None:
        t = t.filter(t.period_start == period_start)
    return cast(list[ResultRow], _records(t.order_by(["period_start", "unit_id"])))


def long_rows(
    wh: Warehouse,
    measure_id: str,
    *,
    period_type: PeriodType | None = None,
    period_start: date | None = None,
    level: Level | None = None,
    unit_id: str | None = None,
    limit: int = 500,
    details: bool = True,
    departments: list[str] | None = None,
) -> list[LongRow]:
    """Patient-level rows behind a result (population members, excluded ones included).

    ``period_start`` with ``period_type`` (default month) limits to that period's discharges;
    ``level`` + ``unit_id`` to one site/department/unit/practitioner. A unit's rows are the
    stays that passed through it (``cmo.measures.core.stays_in_unit``), as its unit-level
    result counts them (docs/measures/results.md), not only those discharged from it.
    ``departments`` keeps only stays of those departments (a chair's scope), before ``limit``.

    With ``details`` (the default) each row also carries its stay's ``admit_date``,
    ``principal_dx`` and ``principal_dx_display`` and ``secondary_dx`` (a list of
    ``{"code", "display", "poa"}``, ordered by code) from ``core__inpatient_stay`` and
    ``core__stay_diagnosis``; codes are undotted ICD-10-CM as in the core layer, displays are
    the source's own (``Condition.code`` / ``Claim.diagnosis`` coding display). Callers that
    only need ids (``details=False``) skip those joins.
    """
    import ibis

    if not wh.exists("quality__measure_long"):
        return []
    t = wh.table("quality__measure_long")
    t = t.filter((t.measure_id == measure_id) & t.in_population)
    if period_start is not None:
        months = PERIOD_MONTHS[period_type or "month"]
        start = ibis.literal(period_start, type="date")
        end = ibis.literal(_add_months(period_start, months), type="date")
        t = t.filter((t.period_month >= start) & (t.period_month < end))
    if level == "unit" and unit_id is not None and wh.exists("core__stay_unit"):
        from cmo.measures.core import stays_in_unit

        t = t.semi_join(stays_in_unit(wh, unit_id), "stay_id")
    elif level and level != "system" and unit_id is not None:
        t = t.filter(t[LEVEL_COLUMN[level]] == unit_id)
    if departments is not None:
        t = t.filter(t.department_id.isin(departments))
    rows = _records(t.order_by(["discharge_date", "stay_id"]).limit(limit))
    if details and rows:
        _add_stay_details(wh, rows)
    return cast(list[LongRow], rows)


def practitioners_in(
    wh: Warehouse, measure_id: str, departments: list[str], *, year: date | None = None
) -> set[str]:
    """Practitioners with population stays of ``measure_id`` in these departments (in the
    calendar year starting ``year``; None = any time): a chair's scope. Ids only, one query."""
    import ibis

    if not wh.exists("quality__measure_long") or not departments:
        return set()
    t = wh.table("quality__measure_long")
    t = t.filter(
        (t.measure_id == measure_id)
        & t.in_population
        & t.department_id.isin(departments)
        & t.practitioner_id.notnull()
    )
    if year is not None:
        start = ibis.literal(year, type="date")
        end = ibis.literal(_add_months(year, 12), type="date")
        t = t.filter((t.period_month >= start) & (t.period_month < end))
    return {str(r["practitioner_id"]) for r in _records(t.select("practitioner_id").distinct())}


def _add_stay_details(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    """Admission date and diagnoses (with their displays) of each row's stay, in place."""
    ids = sorted({str(r["stay_id"]) for r in rows if r.get("stay_id") is not None})
    stays: dict[str, dict[str, Any]] = {}
    if wh.exists("core__inpatient_stay"):
        s = wh.table("core__inpatient_stay")
        cols = ["stay_id", "admit_date", "principal_dx", "secondary_dx"]
        for r in _records(s.filter(s.stay_id.isin(ids)).select(*cols)):
            stays[str(r["stay_id"])] = r
    secondary: dict[str, list[tuple[str, str | None]]] = {}
    if wh.exists("core__stay_diagnosis"):
        # The child table keeps present-on-admission, which the stay's array does not.
        d = wh.table("core__stay_diagnosis")
        d = d.filter(d.stay_id.isin(ids) & ~d.is_principal.fill_null(False))
        for r in _records(d.select("stay_id", "code", "poa")):
            secondary.setdefault(str(r["stay_id"]), []).append((str(r["code"]), r["poa"]))
    else:
        for sid, r in stays.items():
            secondary[sid] = [(str(c), None) for c in r.get("secondary_dx") or []]
    codes = {str(r["principal_dx"]) for r in stays.values() if r.get("principal_dx")}
    codes |= {c for dxs in secondary.values() for c, _ in dxs}
    names = dx_displays(wh, codes)
    for row in rows:
        sid = str(row.get("stay_id"))
        stay = stays.get(sid, {})
        principal = stay.get("principal_dx")
        row["admit_date"] = stay.get("admit_date")
        row["principal_dx"] = principal
        row["principal_dx_display"] = names.get(principal) if principal else None
        row["secondary_dx"] = [
            {"code": c, "display": names.get(c), "poa": poa}
            for c, poa in sorted(secondary.get(sid, []))
        ]


def _dotted(code: str) -> str:
    """``"I509"`` -> ``"I50.9"``: ICD-10-CM's printed form (a dot after the category)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def dx_displays(wh: Warehouse, codes: set[str]) -> dict[str, str]:
    """Display text of undotted ICD-10-CM ``codes`` as the source data gives them.

    Read from ``fhir__condition`` (``Condition.code.coding[0].display``), then
    ``fhir__claim_diagnosis``; sources write codes dotted or undotted, so both forms are looked
    up. A code without a display in the data is left out.
    """
    if not codes:
        return {}
    wanted = sorted(codes | {_dotted(c) for c in codes})
    out: dict[str, str] = {}
    for table in ("fhir__claim_diagnosis", "fhir__condition"):  # later ones win
        if not wh.exists(table):
            continue
        t = wh.table(table)
        t = t.filter(t.code.isin(wanted) & t.code_display.notnull() & (t.code_display != ""))
        norm = t.code.replace(".", "").strip().upper()
        q = t.group_by(code=norm).aggregate(display=t.code_display.min())
        for r in _records(q.filter(q.code.isin(list(codes)))):
            out[str(r["code"])] = str(r["display"])
    return out


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def signals(
    wh: Warehouse, *, site_id: str | None = None, current: bool | None = None
) -> list[SignalRow]:
    """Control-chart, funnel and CUSUM signals, newest first; ``current`` True keeps those of
    the last complete months (the build decides, ``cmo.measures.results.mark_current``)."""
    if not wh.exists("quality__signal"):
        return []
    t = wh.table("quality__signal")
    if site_id is not None:
        t = t.filter((t.site_id == site_id) | (t.level == "system"))
    if current is not None and "current" in t.columns:
        t = t.filter(t.current.fill_null(False) == current)
    order = [t.period_start.desc(), "measure_id", "level", "unit_id"]
    return cast(list[SignalRow], _records(t.order_by(order)))


def periods(wh: Warehouse) -> list[PeriodRow]:
    """Every period of the results, with whether it is complete and the latest complete one
    of each type (``quality__period``), by type and start."""
    if not wh.exists("quality__period"):
        return []
    t = wh.table("quality__period")
    return cast(list[PeriodRow], _records(t.order_by(["period_type", "period_start"])))


def latest_complete(wh: Warehouse, period_type: PeriodType) -> date | None:
    """The start of the latest complete period of this type, or None before any build."""
    for p in periods(wh):
        if p["period_type"] == period_type and p["latest_complete"]:
            return p["period_start"]
    return None


def chart(
    wh: Warehouse, measure_id: str, *, level: ChartLevel = "system", unit_id: str = "all"
) -> list[ChartPoint]:
    """A measure's monthly control chart for the system (``unit_id`` "all") or a site, in
    month order (``quality__chart_point``); empty when it has too few complete months."""
    if not wh.exists("quality__chart_point"):
        return []
    t = wh.table("quality__chart_point")
    t = t.filter((t.measure_id == measure_id) & (t.level == level) & (t.unit_id == unit_id))
    return cast(list[ChartPoint], _records(t.order_by("period_start")))


def funnel(
    wh: Warehouse,
    measure_id: str,
    *,
    level: FunnelLevel = "practitioner",
    period_start: date | None = None,
    site_id: str | None = None,
    window: FunnelWindow = "year",
) -> list[FunnelPoint]:
    """The units of one funnel (``quality__funnel_point``): a calendar year (``window``
    'year', ``period_start`` default the latest complete year) or the rolling 12 or 24 months
    ending at the latest complete month (``window`` 'rolling12'/'rolling24'; ``period_start``
    default that window's start); ``site_id`` keeps that site's units (the limits stay the
    system's). Ordered by unit."""
    if not wh.exists("quality__funnel_point"):
        return []
    t = wh.table("quality__funnel_point")
    has_window = "window" in t.columns
    if window != "year" and not has_window:
        return []
    if has_window:
        t = t.filter(t.window == window)
    start = period_start
    if start is None and window == "year":
        start = latest_complete(wh, "year")
    if start is None and window != "year":
        latest = t.filter(t.measure_id == measure_id).period_start.max().execute()
        start = None if latest is None or latest != latest else latest
        if isinstance(start, datetime):
            start = start.date()
    if start is None:
        return []
    t = t.filter((t.measure_id == measure_id) & (t.level == level) & (t.period_start == start))
    if site_id is not None:
        t = t.filter(t.site_id == site_id)
    return cast(list[FunnelPoint], _records(t.order_by("unit_id")))


def cusum(wh: Warehouse, measure_id: str, *, site_id: str | None = None) -> list[CusumPoint]:
    """A measure's risk-adjusted CUSUM series (``quality__cusum``) of one site, or of every
    site, by site, side and day; empty before a build that stores it."""
    if not wh.exists("quality__cusum"):
        return []
    t = wh.table("quality__cusum")
    t = t.filter(t.measure_id == measure_id)
    if site_id is not None:
        t = t.filter(t.unit_id == site_id)
    return cast(list[CusumPoint], _records(t.order_by(["unit_id", "side", "day"])))


def model_card(wh: Warehouse, measure_id: str) -> dict[str, Any] | None:
    """The latest model card of a risk-adjusted measure, or None."""
    if not wh.exists("quality__model_card"):
        return None
    t = wh.table("quality__model_card")
    rows = _records(t.filter(t.measure_id == measure_id).order_by(t.built_at.desc()).limit(1))
    if not rows:
        return None
    card: dict[str, Any] = json.loads(rows[0]["card_json"])
    card.setdefault("measure_id", measure_id)
    card.setdefault("built_at", rows[0]["built_at"])
    return card


def data_status(wh: Warehouse) -> DataStatus:
    """What is in the warehouse: ingest runs, rows per table, quarantine, build steps."""
    tables = wh.list_tables()
    counts = {name: wh.count(name) for name in tables}
    status: DataStatus = {
        "tables": counts,
        "ingest_runs": [],
        "quarantined": counts.get("fhir__quarantine", 0),
        "build_steps": [],
        "last_build": None,
    }
    if "fhir__ingest_run" in tables:
        status["ingest_runs"] = _records(wh.table("fhir__ingest_run"))
    if "quality__build_run" in tables:
        runs = wh.table("quality__build_run")
        latest = runs.filter(runs.started == runs.started.max())
        steps = _records(latest.order_by("step_order"))
        status["build_steps"] = steps
        if steps:
            status["last_build"] = {
                "run_id": steps[0]["run_id"],
                "started": steps[0]["started"],
                "finished": steps[0]["finished"],
                "as_of": steps[0]["as_of"],
                "seconds": sum(s["seconds"] for s in steps),
            }
    return status


QUARANTINE_LIMIT = 200


def quarantine(
    wh: Warehouse, *, limit: int = QUARANTINE_LIMIT, offset: int = 0, with_text: bool = False
) -> QuarantinePage:
    """Quarantined input lines (``fhir__quarantine``), newest ingest run first.

    Returns ``{"total": n, "rows": [...]}``; each row has run_id, started (the run's start, if
    the run log has it), file, line, resource_type, reason and, only ``with_text``, the first
    characters of the line (``text``), which can hold patient data: callers pass
    ``with_text=True`` only for users allowed patient data. Ordered by run start (newest
    first), then file and line; ``limit``/``offset`` page through them.
    """
    if not wh.exists("fhir__quarantine"):
        return {"total": 0, "rows": []}
    q = wh.table("fhir__quarantine")
    total = int(q.count().to_pyarrow().as_py())
    cols = ["run_id", "file", "line", "resource_type", "reason"] + (["text"] if with_text else [])
    q = q.select(*cols)
    if wh.exists("fhir__ingest_run"):
        runs = wh.table("fhir__ingest_run").select("run_id", "started")
        q = q.left_join(runs, "run_id").select(*cols, "started")
        order = [q.started.desc(nulls_first=False), q.run_id.desc(), "file", "line"]
    else:
        order = [q.run_id.desc(), "file", "line"]
    rows = _records(q.order_by(order).limit(limit, offset=offset))
    return {"total": total, "rows": cast(list[QuarantineRow], rows)}


# Reads of one unit across measures (the practitioner, department and unit pages), the
# stays' demographics for the drill-down, and the data status for people (issue 14).


def unit_results(
    wh: Warehouse,
    level: Level,
    unit_id: str,
    *,
    period_type: PeriodType = "year",
    period_start: date | None = None,
) -> list[ResultRow]:
    """Every measure's results for one unit of a level (a practitioner, department, unit or
    site), ordered by measure then period."""
    if not wh.exists("quality__measure_result"):
        return []
    t = wh.table("quality__measure_result")
    t = t.filter((t.period_type == period_type) & (t.level == level) & (t.unit_id == unit_id))
    if period_start is not None:
        t = t.filter(t.period_start == period_start)
    return cast(list[ResultRow], _records(t.order_by(["measure_id", "period_start"])))


def unit_funnel(
    wh: Warehouse,
    level: FunnelLevel,
    unit_id: str,
    *,
    period_start: date | None = None,
    window: FunnelWindow = "year",
) -> list[FunnelPoint]:
    """One unit's funnel points across measures: a calendar year (default the latest complete
    one) or a rolling window (``window``; a rolling 12 months of data ending in December
    starts on a year's first day too). A build has one rolling window of each length, whose
    start may differ by measure (it starts where the measure's lookback is complete): without
    ``period_start`` every measure's is returned."""
    if not wh.exists("quality__funnel_point"):
        return []
    year = period_start or (latest_complete(wh, "year") if window == "year" else None)
    if year is None and window == "year":
        return []
    t = wh.table("quality__funnel_point")
    if "window" in t.columns:
        t = t.filter(t.window == window)
    elif window != "year":
        return []
    t = t.filter((t.level == level) & (t.unit_id == unit_id))
    if year is not None:
        t = t.filter(t.period_start == year)
    return cast(list[FunnelPoint], _records(t.order_by("measure_id")))


def unit_signals(
    wh: Warehouse, level: Level, unit_id: str, *, current: bool | None = True
) -> list[SignalRow]:
    """One unit's signals across measures (current ones by default), newest first."""
    if not wh.exists("quality__signal"):
        return []
    t = wh.table("quality__signal")
    t = t.filter((t.level == level) & (t.unit_id == unit_id))
    if current is not None and "current" in t.columns:
        t = t.filter(t.current.fill_null(False) == current)
    return cast(list[SignalRow], _records(t.order_by([t.period_start.desc(), "measure_id"])))


def unit_names(wh: Warehouse, level: Level) -> dict[str, str]:
    """Id -> name of every unit of a level that has results (any measure, yearly rows)."""
    if not wh.exists("quality__measure_result"):
        return {}
    t = wh.table("quality__measure_result")
    t = t.filter((t.period_type == "year") & (t.level == level))
    q = t.group_by("unit_id").aggregate(unit_name=t.unit_name.max(), site_id=t.site_id.max())
    return {str(r["unit_id"]): str(r["unit_name"] or r["unit_id"]) for r in _records(q)}


def practitioner_departments(wh: Warehouse, practitioner_id: str) -> dict[str, int]:
    """Departments of a practitioner's attributed population stays -> number of stays (any
    measure, any time): the peers of the practitioner page and a chair's scope check."""
    if not wh.exists("quality__measure_long"):
        return {}
    t = wh.table("quality__measure_long")
    t = t.filter(t.in_population & (t.practitioner_id == practitioner_id))
    t = t.filter(t.department_id.notnull())
    q = t.group_by("department_id").aggregate(n=t.stay_id.nunique())
    return {str(r["department_id"]): int(r["n"]) for r in _records(q)}


def stay_demographics(wh: Warehouse, stay_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Age at admission, sex, patient id and ``mrn`` of each stay (``core__inpatient_stay``;
    the MRN from :func:`mrns`)."""
    if not stay_ids or not wh.exists("core__inpatient_stay"):
        return {}
    s = wh.table("core__inpatient_stay")
    cols = [
        c for c in ("stay_id", "patient_id", "age", "sex", "died_in_hospital") if c in s.columns
    ]
    rows = _records(s.filter(s.stay_id.isin(sorted(set(stay_ids)))).select(*cols))
    numbers = mrns(wh, [str(r["patient_id"]) for r in rows if r.get("patient_id")])
    return {str(r["stay_id"]): {**r, "mrn": numbers.get(str(r.get("patient_id")))} for r in rows}


def mrns(wh: Warehouse, patient_ids: list[str]) -> dict[str, str]:
    """Patient id -> medical record number: the ``Patient.identifier`` typed HL7 v2-0203
    ``MR`` (``fhir__patient_identifier``; the first such identifier when there are several).
    A patient without one is absent (the page shows a dash, never another identifier)."""
    if not patient_ids or not wh.exists("fhir__patient_identifier"):
        return {}
    t = wh.table("fhir__patient_identifier")
    if "type_code" not in t.columns or "type_system" not in t.columns:
        return {}
    t = t.filter(
        t.patient_id.isin(sorted(set(patient_ids)))
        & (t.type_system == V2_0203)
        & (t.type_code == MRN_TYPE)
        & t.value.notnull()
    )
    out: dict[str, str] = {}
    for r in _records(t.select("patient_id", "pos", "value").order_by(["patient_id", "pos"])):
        out.setdefault(str(r["patient_id"]), str(r["value"]))
    return out


class SiteStatus(TypedDict):
    """What a person needs to know of one site's data (``site_status``)."""

    site_id: str
    site_name: str
    stays: int
    first_discharge: date | None
    last_discharge: date | None
    last_month_stays: int
    usual_month_stays: float | None


def site_status(wh: Warehouse) -> list[SiteStatus]:
    """Per site: stays, first and last discharge, the stays of the last month with data and
    the median of the 12 months before it (to judge completeness), ordered by name."""
    if not wh.exists("core__inpatient_stay"):
        return []
    s = wh.table("core__inpatient_stay").filter(lambda t: t.discharge_date.notnull())
    month = s.discharge_date.truncate("M").name("month")
    per_month = s.group_by(["site_id", month]).aggregate(n=s.stay_id.count())
    totals = s.group_by("site_id").aggregate(
        stays=s.stay_id.count(), first=s.discharge_date.min(), last=s.discharge_date.max()
    )
    names = unit_names(wh, "site")
    months: dict[str, list[tuple[Any, int]]] = {}
    for r in _records(per_month):
        months.setdefault(str(r["site_id"]), []).append((r["month"], int(r["n"])))
    out: list[SiteStatus] = []
    for r in _records(totals):
        sid = str(r["site_id"])
        series = sorted(months.get(sid, []), key=lambda m: str(m[0]))
        last_n = series[-1][1] if series else 0
        before = sorted(n for _, n in series[-13:-1])
        usual = float(before[len(before) // 2]) if before else None
        out.append(
            {
                "site_id": sid,
                "site_name": names.get(sid, sid),
                "stays": int(r["stays"]),
                "first_discharge": _day(r["first"]),
                "last_discharge": _day(r["last"]),
                "last_month_stays": last_n,
                "usual_month_stays": usual,
            }
        )
    return sorted(out, key=lambda x: x["site_name"])


def _day(v: Any) -> date | None:
    if v is None:
        return None
    return v.date() if isinstance(v, datetime) else v  # type: ignore[no-any-return]


def data_issues(wh: Warehouse) -> list[dict[str, Any]]:
    """``quality__data_issue`` summed per issue and site: rows (stays or codes), and for the
    per-site shares (missing POA) the share and its denominator."""
    if not wh.exists("quality__data_issue"):
        return []
    t = wh.table("quality__data_issue")
    q = t.group_by(["issue", "site_id"]).aggregate(
        rows=t.count(), stays=t.stay_id.nunique(), value=t.value.max(), n=t.n.max()
    )
    return _records(q.order_by(["issue", "site_id"]))
