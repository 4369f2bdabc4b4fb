"""UCDUR: urinary catheter device utilisation ratio (device days / patient days) by NHSN location.

Method: CDC NHSN Patient Safety Component Manual (January 2024), chapter 2 and the
device-associated module's denominator form (patient days and device days counted at the same
time each day); DUR = device days / patient days (NHSN *Guide to the SIR* and *Guide to the
SUR*). Informational: the exposure behind the infection rate, no signals (the NHSN SUR with its
predicted device days is not built).

Long rows: one per stay x NHSN location x month with patient days (cmo.measures.library.nhsn);
outcome = urinary-catheter days, exposure = patient days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library import nhsn
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="UCDUR",
    version="1.0",
    title="Urinary catheter utilisation ratio",
    description=(
        "Urinary catheter days per patient day by NHSN location (device utilisation ratio)."
    ),
    unit_of_analysis="stay x NHSN location x month (patient days)",
    method="Device days / patient days, both counted at 23:59:59 each day",
    citation="CDC NHSN Patient Safety Component Manual 2024, ch. 2 (denominators); NHSN device "
    "utilisation ratio",
    direction="lower",
    kind="rate",
    risk_adjusted=False,
    unit="device days per patient day",
    group="harm",
)


def long(ctx: Context) -> ir.Table:
    return nhsn.utilisation_long(ctx, "uc", SPEC.measure_id)


MEASURE = Measure(spec=SPEC, long=long, signals=False, located=True)
