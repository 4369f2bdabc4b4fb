"""SAFETY_EVENTS: safety events reported per 1,000 patient days (the reporting rate), by
system, site, department and ward-level unit, on a u-chart.

Method: events are the safety module's (``app__safety_event``: staff reports, reports through
the API, the EHR's FHIR AdverseEvents and system issues handed over by peer review; merged
duplicates left out), classified by the AHRQ Common Formats for Event Reporting - Hospital
v2.0; patient days are the NHSN denominator (a census at 23:59:59 each day at the ward-level
unit occupied then; CDC NHSN Patient Safety Component Manual 2024, ch. 2), the same patient
days as CLABSI/CAUTI (``cmo.measures.library.nhsn.unit_months``). Rate = events / patient days
x 1,000, charted as a u-chart with exact Poisson limits (Benneyan, Lloyd & Plsek, Qual Saf
Health Care 2003;12:458).

Direction: higher is better. Incident reports measure reporting, not harm: across English
acute hospitals higher reporting rates correlated with a more positive safety culture (NHS
Staff Survey) and better risk-management ratings, and not with mortality or length of stay
(Hutchinson A et al., Qual Saf Health Care 2009;18:5-10, NRLS), so a fall in reporting is the
warning sign. Harm is SAFETY_HARM.

Long rows (``cmo.measures.safety.rate_long``): one per stay x unit x month with patient days
(outcome 0) and one per event (outcome 1, no stay: the export is de-identified) at its unit and
month of occurrence. No practitioner level. No rows at all while the warehouse has no
``app__safety_event`` (no app was ever synced; the build says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures import safety
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="SAFETY_EVENTS",
    version="1.0",
    title="Safety events reported per 1,000 patient days",
    description="Safety events (staff and API reports, EHR adverse events) per 1,000 patient "
    "days by unit; a safety-culture indicator: more reporting is better.",
    unit_of_analysis="event, and stay x unit x month (patient days)",
    method="Events / patient days x 1,000 (patient days: NHSN census at 23:59:59 by unit); "
    "u-chart with exact Poisson limits",
    citation="AHRQ Common Formats for Event Reporting - Hospital v2.0; CDC NHSN Patient Safety "
    "Component Manual 2024, ch. 2 (patient days); Hutchinson et al., Qual Saf Health Care "
    "2009;18:5-10 (reporting rate and safety culture)",
    direction="higher",
    kind="rate",
    risk_adjusted=False,
    unit="per 1,000 patient days",
    group="harm",
)


def long(ctx: Context) -> ir.Table:
    return safety.rate_long(ctx, SPEC.measure_id)


MEASURE = Measure(
    spec=SPEC,
    long=long,
    located=True,
    per=safety.PER,
    finish=safety.finish(SPEC.measure_id),
)
