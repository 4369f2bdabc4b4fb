"""IMORT: in-hospital mortality of adult acute inpatient stays, risk-adjusted.

Method: all-condition in-hospital mortality after AHRQ Inpatient Quality Indicator IQI 91
(mortality for selected inpatient conditions) and the Vizient/Premier all-cause in-hospital
mortality index; the transfer rule of the CMS 30-day mortality measures (Krumholz HM, et al.
Circulation 2006;113:1683-92; CMS Hybrid Hospital-Wide Mortality methodology 2022): admissions
transferred in from another acute hospital (admitSource ``hosp-trans``, or continuing a transfer
chain) are excluded and the chain's death counts against the first hospital.

Population: adult acute (class IMP/ACUTE) stays. Exclusions, in order: age unknown or under 18;
transferred in; non-acute stay (class NONAC); obstetric stays (MS-DRG MDC 14) and neonatal
stays (MDC 15), after AHRQ IQI 91's exclusion of MDC 14/15; a vital-status conflict in the
chain (``vital_status_inconsistent``, see ``cmo.measures.core``). Outcome: a death in hospital
in any stay of the chain (disposition expired, or a death date on the discharge date with no
live disposition).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from cmo.measures.library.common import (
    ADULT_AGE,
    NEONATAL_MDC,
    OBSTETRIC_MDC,
    episodes,
    reason,
    skeleton,
    with_mdc,
)
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="IMORT",
    version="2.0",
    title="In-hospital mortality",
    description="Deaths in hospital among adult acute inpatient stays (transfer chains as one "
    "episode; obstetric and neonatal stays excluded).",
    unit_of_analysis="inpatient stay (first stay of a transfer chain)",
    method="Observed/expected from a logistic model fitted on the reference window",
    citation="AHRQ IQI 91 (mortality for selected inpatient conditions), 2024: MDC 14/15 "
    "excluded; CMS 30-day mortality measures transfer rule (Krumholz 2006)",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


def long(ctx: Context) -> ir.Table:
    e = with_mdc(ctx, episodes(ctx))
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (e.transfer_in, "transfer_in"),
        (~e.acute, "non_acute"),
        (e.mdc == OBSTETRIC_MDC, "obstetric"),
        (e.mdc == NEONATAL_MDC, "neonatal"),
        (e.chain_conflict, "vital_status_inconsistent"),
    )
    return skeleton(
        SPEC.measure_id,
        e,
        SPEC.attribution,
        in_population=e.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=e.chain_died.cast("float64"),
        evidence_date=ibis.coalesce(e.chain_death_date, e.discharge_date),
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
