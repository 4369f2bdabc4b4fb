"""SAFETY_CLOSE: days from a safety report to its closure (median), by the month it closed.

Method: days from the report (``reported_date``) to closure (``closed_date``: the safety officer
closed the event with the reporter's feedback message) of every closed event, any source; the
result's rate is the median (``median`` of the results; the mean is numerator / denominator).
Timely closure is the feedback loop: reporters who hear nothing back stop reporting, and a
closed loop raised reporting (Benn J et al., Qual Saf Health Care 2009;18:11-21, feedback from
incident reporting; NPSF, RCA²: Improving Root Cause Analyses and Actions to Prevent Harm,
2015, on timely closure). An efficiency measure: lower is better. I-chart of the monthly
median (Provost & Murray, The Health Care Data Guide, 2011).

Open events have no duration yet and are not in the population (by closure month, a recent
month holds the events closed then, not those reported then, so it is not biased towards
quick closures of recent reports; open backlogs show on the safety queue's clocks).

Long rows: one per event (no stay), outcome = days to close, at its unit and month of closure.
No practitioner level.
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
    measure_id="SAFETY_CLOSE",
    version="1.0",
    title="Days to close a safety event (median)",
    description="Median days from a safety report to its closure with feedback to the "
    "reporter, by month of closure.",
    unit_of_analysis="closed safety event",
    method="Median of closed date - reported date over the events closed in the period; "
    "I-chart of the monthly median",
    citation="Benn et al., Qual Saf Health Care 2009;18:11-21 (feedback from incident "
    "reporting); NPSF RCA² (2015)",
    direction="lower",
    kind="mean",
    risk_adjusted=False,
    unit="days",
    group="efficiency",
)


def long(ctx: Context) -> ir.Table:
    ev = safety.events(ctx)
    if ev is None:
        return safety.empty(SPEC.measure_id)
    closed = ev.filter(ev.closed_date.notnull())
    days = closed.closed_date.delta(closed.reported_date, unit="day")
    return safety.event_rows(
        ctx,
        SPEC.measure_id,
        closed,
        when=closed.closed_date,
        outcome=ibis.greatest(days, 0).cast("float64"),
    )


MEASURE = Measure(
    spec=SPEC, long=long, located=True, finish=safety.finish(SPEC.measure_id, median=True)
)
