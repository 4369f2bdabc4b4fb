"""LOS: length of stay against the MS-DRG geometric mean (LOS index, excess days).

Outcome per stay = LOS in days (discharge date - admission date); expected = the CMS Table 5
geometric mean LOS (GMLOS) of the stay's MS-DRG. LOS index = sum(observed) / sum(GMLOS);
excess days = sum(observed) - sum(GMLOS). Method: Vizient/CMS LOS index (observed over
expected with GMLOS as the expected LOS; CMS IPPS Final Rule Table 5 for GMLOS).
Population: adult inpatient stays with a grouped MS-DRG (ungroupable stays are excluded with
reason ``no_drg``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library.common import ADULT_AGE, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="LOS",
    version="1.0",
    title="Length of stay",
    description="Mean LOS in days; the LOS index is observed over MS-DRG geometric mean LOS.",
    unit_of_analysis="inpatient stay",
    method="Sum of LOS over sum of MS-DRG GMLOS (CMS Table 5, FY2026); excess days = O - E",
    citation="CMS IPPS FY2026 Final Rule Table 5 (GMLOS); LOS index as used by Vizient and "
    "the CMS Medicare Provider Analysis and Review (MedPAR) LOS definition",
    direction="lower",
    kind="mean",
    risk_adjusted=True,
    unit="days",
)


def long(ctx: Context) -> ir.Table:
    s = ctx.stays.left_join(ctx.drg.select("stay_id", "gmlos"), "stay_id").drop("stay_id_right")
    why = reason(
        (s.age.isnull(), "age_unknown"),
        (s.age < ADULT_AGE, "age_under_18"),
        (s.gmlos.isnull(), "no_drg"),
    )
    return skeleton(
        SPEC.measure_id,
        s,
        in_population=s.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=s.los_days.cast("float64"),
        expected=s.gmlos,
        evidence_date=s.discharge_date,
    )


MEASURE = Measure(spec=SPEC, long=long)
