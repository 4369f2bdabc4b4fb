"""IMORT: in-hospital mortality of adult inpatient stays, risk-adjusted.

Method: AHRQ Inpatient Quality Indicator IQI 91 / Vizient-style all-condition in-hospital
mortality; population per CMS 30-day mortality measures (Krumholz HM, et al. Circulation
2006;113:1683-92) for the transfer rule: admissions transferred in from another acute hospital
(admitSource ``hosp-trans``, or continuing a transfer chain) are excluded and the chain's death
counts against the first hospital. Outcome: discharge disposition ``exp`` or a death time within
any stay of the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from cmo.measures.library.common import ADULT_AGE, episodes, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="IMORT",
    version="1.0",
    title="In-hospital mortality",
    description="Deaths in hospital among adult inpatient stays (transfer chains as one episode).",
    unit_of_analysis="inpatient stay (first stay of a transfer chain)",
    method="Observed/expected from a logistic model fitted on the reference window",
    citation="AHRQ IQI 91 (mortality for selected inpatient conditions), 2024; CMS 30-day "
    "mortality measures transfer rule (Krumholz 2006)",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


def long(ctx: Context) -> ir.Table:
    e = episodes(ctx)
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (e.transfer_in, "transfer_in"),
    )
    return skeleton(
        SPEC.measure_id,
        e,
        in_population=e.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=e.chain_died.cast("float64"),
        evidence_date=ibis.coalesce(e.chain_death_date, e.discharge_date),
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
