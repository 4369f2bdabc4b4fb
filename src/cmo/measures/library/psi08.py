"""PSI 08 (AHRQ Patient Safety Indicator 08, v2024, hospital level):
in-hospital fall-associated fracture rate.

Method: AHRQ Quality Indicators PSI 08 technical specification v2024 and the SAS QI software
v2024 (PSI_HOSP_MEASURES.SAS); denominator, exclusions and numerator in
:func:`cmo.measures.library.psi_rules.rules`, code lists from AHRQ's format names
(``cmo/measures/data/ahrq_psi_v2024_codes.csv``). Risk adjustment: cmo's logistic model
(docs/measures/PSI.md says why not AHRQ's GEE parameters). One long row per stay meeting the
denominator inclusion, with the first exclusion that applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library.psi_rules import psi_long, psi_spec
from cmo.measures.spec import Measure

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = psi_spec("PSI08")


def long(ctx: Context) -> ir.Table:
    return psi_long(SPEC, ctx)


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
