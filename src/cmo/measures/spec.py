"""The anatomy every measure shares (ARCHITECTURE.md §6) and the registry that discovers them.

A measure is a module in :mod:`cmo.measures.library` that defines ``MEASURE`` (a
:class:`Measure`). Its stages are plain functions of a :class:`Context`:
``population`` (initial population with exclusion reasons) -> ``outcome`` -> ``risk`` (an
optional logistic model) -> results (shared code in :mod:`cmo.measures.results`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

LONG_SCHEMA = {
    "measure_id": "string",
    "stay_id": "string",
    "patient_id": "string",
    "period_month": "date",
    "discharge_date": "date",
    "site_id": "string",
    "department_id": "string",
    "unit_id": "string",
    "practitioner_id": "string",
    "in_population": "boolean",
    "excluded": "boolean",
    "exclusion_reason": "string",
    "outcome": "float64",
    "expected": "float64",
    "evidence_date": "date",
    # The rate's denominator when it is not the row count (kind "rate": device days or patient
    # days; a survey measure: 1 when the patient answered, so exposure / rows is the response
    # rate); null for the other measures. Results then report rate = numerator / exposure.
    "exposure": "float64",
}


# Attribution rules a measure can choose (its spec's ``attribution``): rule -> the
# core__inpatient_stay column that names the practitioner of a stay. Pages show the rule beside
# every practitioner result.
ATTRIBUTION_RULES = {
    # The ATND participant with the latest period start (CMS HWR/mortality attribute to the
    # discharging hospital; within it, OPPE practice attributes to the attending of record).
    "attending_at_discharge": "attending_id",
    # The performer of the principal procedure (UB-04 FL74): surgical outcome measures.
    "operating_surgeon": "surgeon_id",
}


# Measure groups, in the order the dashboard and the board report show them.
GROUPS = {
    "outcomes": "Outcomes (mortality, readmission)",
    "harm": "Harm (patient safety indicators, infections, complications)",
    "efficiency": "Efficiency (length of stay, case mix)",
    "patient_reported": "Patient-reported outcomes",
}


@dataclass(frozen=True)
class MeasureSpec:
    """What ``quality__measure`` holds about a measure."""

    measure_id: str
    version: str
    title: str
    description: str
    unit_of_analysis: str
    method: str
    citation: str
    direction: str  # 'lower' or 'higher' is better; 'none': informational, never signalled
    kind: str  # 'proportion', 'mean' or 'rate' (events per exposure, e.g. device days)
    risk_adjusted: bool
    unit: str
    target: float | None = None
    attribution: str = "attending_at_discharge"  # a key of ATTRIBUTION_RULES
    # The dashboard's and the board report's section: a key of GROUPS.
    group: str = "outcomes"

    def __post_init__(self) -> None:
        if self.attribution not in ATTRIBUTION_RULES:
            raise ValueError(f"{self.measure_id}: unknown attribution {self.attribution!r}")
        if self.group not in GROUPS:
            raise ValueError(f"{self.measure_id}: unknown group {self.group!r}")

    def row(self) -> dict[str, Any]:
        return {
            "measure_id": self.measure_id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "unit_of_analysis": self.unit_of_analysis,
            "method": self.method,
            "citation": self.citation,
            "direction": self.direction,
            "target": self.target,
            "kind": self.kind,
            "risk_adjusted": self.risk_adjusted,
            "unit": self.unit,
            "attribution": self.attribution,
            "group": self.group,
        }


@dataclass
class Context:
    """What every stage reads: the warehouse, the core tables and the data end."""

    wh: Warehouse
    stays: ir.Table  # core__inpatient_stay
    comorbidity: ir.Table  # core__comorbidity
    drg: ir.Table  # core__drg
    procedures: ir.Table  # core__stay_procedure
    data_end: date
    extra: dict[str, Any] = field(default_factory=dict)

    def shared(self, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """A table that several measures (or one measure several times) read, such as the
        episodes or READM30's index stays: materialised once per Context as the warehouse
        scratch table ``core__<name>`` (``Warehouse.scratch``), so the engine does not
        recompute it in every query that reads it."""
        key = f"shared:{name}"
        if key not in self.extra:
            self.extra[key] = self.wh.scratch(f"core__{name}", build())
        table: ir.Table = self.extra[key]
        return table


@dataclass(frozen=True)
class Measure:
    """A measure: its spec and the stage that yields its patient-level rows.

    ``long(ctx)`` returns one row per unit of analysis with the columns of ``LONG_SCHEMA``
    except ``expected`` (filled by the risk stage, or by the measure itself for LOS).
    """

    spec: MeasureSpec
    long: Callable[[Context], ir.Table]
    risk_model: bool = False
    # Control-chart and funnel signals; off for informational measures (case mix).
    signals: bool = True
    # Months after the data start whose rows look back before it (comorbidity, prior ED
    # visits, hospice enrolment, stays admitted before the data start): no signal is raised
    # from them and they are left out of control-chart baselines (cmo.measures.results).
    # The default 1: the first month's discharges lack the long stays admitted before it.
    # Risk-adjusted measures get 12 when POA indicators are missing (results.lookback).
    lookback_months: int = 1
    # The long rows are already one per unit (NHSN location x stay x month): the unit level
    # takes their own unit_id instead of every unit the stay passed through (core__stay_unit).
    located: bool = False
    # Rates per exposure are shown per ``per`` units of it (NHSN: per 1,000 device days): the
    # results' rate and rsr and the chart values are multiplied by it.
    per: float = 1.0
    # Optional step on the result rows (pandas) after the shared aggregation: a composite such
    # as PSI 90 recomputes its rows from its components' rows.
    finish: Callable[[Any], Any] | None = None


def registry() -> dict[str, Measure]:
    """Every ``MEASURE`` defined by a module of :mod:`cmo.measures.library`, by id."""
    from cmo.measures import library

    found: dict[str, Measure] = {}
    for info in sorted(pkgutil.iter_modules(library.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{library.__name__}.{info.name}")
        measure = getattr(module, "MEASURE", None)
        if isinstance(measure, Measure):
            found[measure.spec.measure_id] = measure
    return found
