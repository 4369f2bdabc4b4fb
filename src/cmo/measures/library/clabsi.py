"""CLABSI: central line-associated bloodstream infections, NHSN standardized infection ratio.

Method: CDC NHSN Patient Safety Component Manual (January 2024), chapter 4 (Bloodstream
Infection Event: central line-associated BSI) and chapter 2 (device-associated rule, date of
event, location of attribution); NHSN *Guide to the SIR* (negative-binomial predicted events;
SIR with mid-P interval, none when predicted < 1). Events from ICD-10-CM T80.211A not present
on admission or a positive blood culture (LOINC 600-7), associated with a central line in place
for more than 2 days on the date of event (``cmo.measures.library.nhsn``).

Long rows: one per stay x NHSN location x month with central-line days or an event; outcome =
CLABSIs, exposure = central-line days, expected = predicted CLABSIs. Results: rate per
central-line day (x1,000 on the pages), O/E = SIR. Locations not in the NHSN plan (ED, OR,
behavioural health, rehabilitation; ``nhsn_locations.csv``) are excluded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library import nhsn
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="CLABSI",
    version="1.0",
    title="Central line-associated bloodstream infection (SIR)",
    description="CLABSIs per central-line day by NHSN location; standardized infection ratio "
    "(observed / predicted) with the NHSN mid-P interval.",
    unit_of_analysis="stay x NHSN location x month (central-line days)",
    method="Observed / predicted CLABSIs (predicted = central-line days x the baseline rate of "
    "the location; CMO_NHSN_BASELINE); mid-P exact interval; no SIR when predicted < 1",
    citation="CDC NHSN Patient Safety Component Manual 2024, ch. 2 and 4 (CLABSI); NHSN Guide "
    "to the SIR (2015/2022 baselines)",
    direction="lower",
    kind="rate",
    risk_adjusted=True,
    unit="per 1,000 central-line days",
    group="harm",
)


def long(ctx: Context) -> ir.Table:
    return nhsn.infection_long(ctx, nhsn.EVENTS["CLABSI"], SPEC.measure_id)


MEASURE = Measure(spec=SPEC, long=long, located=True, per=1000.0)
