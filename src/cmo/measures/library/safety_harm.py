"""SAFETY_HARM: safety events that harmed the patient per 1,000 patient days, with the
standardized harm ratio of each unit against units of its type.

Method: harm by the AHRQ Common Formats Harm Scale v1.2 (death, severe, moderate, mild harm;
"no harm" and "unknown" are not harm; near misses and unsafe conditions never reached the
patient); any source (staff reports, the EHR's AdverseEvents). Patient days as SAFETY_EVENTS
(NHSN census at 23:59:59 by ward-level unit). Expected harm events = patient days x the pooled
harm rate of the unit's NHSN location type (critical care, step-down, ward, ...: the NHSN
location map ``nhsn_locations.csv``) over all the data: indirect standardisation as the NHSN
internal baseline (NHSN *Guide to the SIR*), so O/E says "this unit against units of its type
here"; mid-P exact interval, none when fewer than 1 event was expected. u-chart of the rate
with exact Poisson limits (Benneyan, Lloyd & Plsek 2003); quarterly O/E signals per unit with
Benjamini-Hochberg control and unit funnels. Harm events are reported events: they undercount
harm found by record review (Classen DC et al., Health Aff 2011;30:581-589), so a low rate is
read with SAFETY_EVENTS.

Long rows: one per stay x unit x month with patient days and expected harm events, one per
harm event (no stay) at its unit and month. No practitioner level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures import safety
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="SAFETY_HARM",
    version="1.0",
    title="Harm events per 1,000 patient days",
    description="Reported safety events with harm (AHRQ Harm Scale: mild, moderate, severe or "
    "death) per 1,000 patient days by unit; O/E against units of the same NHSN location type.",
    unit_of_analysis="harm event, and stay x unit x month (patient days)",
    method="Harm events / patient days x 1,000; expected = patient days x the pooled rate of "
    "the unit's NHSN location type; mid-P interval; u-chart with exact Poisson limits",
    citation="AHRQ Common Formats Harm Scale v1.2; CDC NHSN Patient Safety Component Manual "
    "2024, ch. 2 (patient days); NHSN Guide to the SIR (internal baseline)",
    direction="lower",
    kind="rate",
    risk_adjusted=True,
    unit="per 1,000 patient days",
    group="harm",
)


def harmed(ev: ir.Table) -> ir.BooleanValue:
    return (ev.category == "incident") & ev.harm.isin(safety.HARM_LEVELS)


def long(ctx: Context) -> ir.Table:
    if safety.events(ctx) is None:
        return safety.empty(SPEC.measure_id)
    rates = safety.location_rates(ctx, harmed)
    return safety.rate_long(ctx, SPEC.measure_id, harmed, rates)


MEASURE = Measure(
    spec=SPEC,
    long=long,
    located=True,
    per=safety.PER,
    finish=safety.finish(SPEC.measure_id),
)
