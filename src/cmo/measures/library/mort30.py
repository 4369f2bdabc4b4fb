"""MORT30: 30-day all-cause mortality from admission, adult inpatient stays, risk-adjusted.

Method after the CMS 30-day risk-standardised mortality measures (Krumholz HM, et al.
Circulation 2006;113:1683-92; CMS Hospital-Wide Mortality methodology 2022): death from any
cause within 30 days of the (first) admission of the episode, in or out of hospital, from
Patient.deceasedDateTime or an in-hospital death. Same population and transfer rule as IMORT;
stays whose 30-day window ends after the data end are excluded (``follow_up_incomplete``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import ibis

from cmo.measures.library.common import ADULT_AGE, episodes, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

WINDOW_DAYS = 30

SPEC = MeasureSpec(
    measure_id="MORT30",
    version="1.0",
    title="30-day mortality",
    description="Deaths from any cause within 30 days of admission among adult inpatient stays.",
    unit_of_analysis="inpatient stay (first stay of a transfer chain)",
    method="Observed/expected from a logistic model fitted on the reference window",
    citation="CMS 30-day risk-standardized mortality measures (Krumholz 2006; CMS Hybrid "
    "Hospital-Wide Mortality methodology report 2022)",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


def long(ctx: Context) -> ir.Table:
    e = episodes(ctx)
    last_admit = ctx.data_end - timedelta(days=WINDOW_DAYS)
    days_to_death = e.death_date.delta(e.chain_admit_date, unit="day")
    died_30 = days_to_death.notnull() & (days_to_death >= 0) & (days_to_death <= WINDOW_DAYS)
    died = died_30.fill_null(False) | e.chain_died
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (e.transfer_in, "transfer_in"),
        (e.chain_admit_date > last_admit, "follow_up_incomplete"),
    )
    death_evidence = ibis.coalesce(e.chain_death_date, e.death_date)
    return skeleton(
        SPEC.measure_id,
        e,
        in_population=e.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=died.cast("float64"),
        evidence_date=ibis.cases((died, death_evidence), else_=e.discharge_date),
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
