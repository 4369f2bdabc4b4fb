"""NEAR_MISS_RATIO: near misses among the safety events staff report.

Method: AHRQ Common Formats for Event Reporting - Hospital v2.0 categories (an incident reached
the patient; a near miss did not; an unsafe condition is a circumstance that raises the
probability of an event). Ratio = near misses / every staff report (form or API) of the period,
by the month the event occurred. EHR AdverseEvents and issues handed over by peer review are
excluded (``not_a_staff_report``): they are not reporting behaviour.

Direction: higher is better. Near misses outnumber harmful events many times over (Heinrich's
ratio; Barach P, Small SD, BMJ 2000;320:759-763, lessons from non-medical near-miss reporting
systems), so a reporting system that captures them is one staff trust and learn from before
harm; a low share means that mostly harm gets reported (AHRQ PSNet, Reporting Patient Safety
Events primer). p-chart by month (Provost & Murray, The Health Care Data Guide, 2011).

Long rows: one per event (no stay: the export is de-identified) at its unit and month of
occurrence; outcome 1 for a near miss. No practitioner level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from cmo.measures import safety
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="NEAR_MISS_RATIO",
    version="1.0",
    title="Near-miss share of safety reports",
    description="Near misses (did not reach the patient) among all safety events staff "
    "reported; a safety-culture indicator: a higher share is better.",
    unit_of_analysis="staff-reported safety event",
    method="Near misses / staff reports (AHRQ Common Formats v2.0 categories), by month of "
    "occurrence; p-chart",
    citation="AHRQ Common Formats for Event Reporting - Hospital v2.0; Barach & Small, BMJ "
    "2000;320:759-763 (near-miss reporting)",
    direction="higher",
    kind="proportion",
    risk_adjusted=False,
    unit="%",
    group="harm",
)


def long(ctx: Context) -> ir.Table:
    ev = safety.events(ctx)
    if ev is None:
        return safety.empty(SPEC.measure_id)
    staff = ev.source.isin(safety.STAFF_SOURCES)
    return safety.event_rows(
        ctx,
        SPEC.measure_id,
        ev,
        when=ev.occurred_date,
        outcome=(ev.category == safety.NEAR_MISS).cast("float64"),
        exclusion=ibis.cases((~staff, "not_a_staff_report"), else_=ibis.null("string")),
    )


MEASURE = Measure(spec=SPEC, long=long, located=True, finish=safety.finish(SPEC.measure_id))
