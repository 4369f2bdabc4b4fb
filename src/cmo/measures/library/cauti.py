"""CAUTI: catheter-associated urinary tract infections, NHSN standardized infection ratio.

Method: CDC NHSN Patient Safety Component Manual (January 2024), chapter 7 (Urinary Tract
Infection: catheter-associated UTI; indwelling urinary catheters only) and chapter 2
(device-associated rule, date of event, location of attribution); NHSN *Guide to the SIR*
(negative-binomial predicted events; SIR with mid-P interval, none when predicted < 1). Events
from ICD-10-CM T83.511A not present on admission or a positive urine culture (LOINC 630-4),
associated with a urinary catheter in place for more than 2 days on the date of event
(``cmo.measures.library.nhsn``).

Long rows: one per stay x NHSN location x month with urinary-catheter days or an event; outcome
= CAUTIs, exposure = catheter days, expected = predicted CAUTIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library import nhsn
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="CAUTI",
    version="1.0",
    title="Catheter-associated urinary tract infection (SIR)",
    description="CAUTIs per urinary-catheter day by NHSN location; standardized infection "
    "ratio (observed / predicted) with the NHSN mid-P interval.",
    unit_of_analysis="stay x NHSN location x month (urinary-catheter days)",
    method="Observed / predicted CAUTIs (predicted = catheter days x the baseline rate of the "
    "location; CMO_NHSN_BASELINE); mid-P exact interval; no SIR when predicted < 1",
    citation="CDC NHSN Patient Safety Component Manual 2024, ch. 2 and 7 (CAUTI); NHSN Guide "
    "to the SIR (2015/2022 baselines)",
    direction="lower",
    kind="rate",
    risk_adjusted=True,
    unit="per 1,000 urinary-catheter days",
    group="harm",
)


def long(ctx: Context) -> ir.Table:
    return nhsn.infection_long(ctx, nhsn.EVENTS["CAUTI"], SPEC.measure_id)


MEASURE = Measure(spec=SPEC, long=long, located=True, per=1000.0)
