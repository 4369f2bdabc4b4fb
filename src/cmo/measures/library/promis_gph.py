"""PROMIS_GPH: PROMIS-10 physical health change after joint replacement.

Method: PROMIS Global Health v1.2 scored with the HealthMeasures scoring manual's raw-score-to-
T-score tables (Hays RD, et al. Qual Life Res 2009;18:873-80); baseline in the 90 days before
admission, follow-up 60-120 days after discharge; minimal important difference 5 T-score points
(Norman GR, et al. Med Care 2003;41:582-92). See cmo.measures.library.promis. Attributed to
the operating surgeon; non-responders stay in the population without an outcome (exposure 0),
so every result carries its response rate (exposure / denominator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library import promis
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="PROMIS_GPH",
    version="1.0",
    title="PROMIS-10 physical health change after joint replacement",
    description=(
        "Mean change in the PROMIS Global Physical Health T-score from before to 60-120 days after "
        "elective hip or knee replacement, among responders (response rate beside each result)."
    ),
    unit_of_analysis="elective hip or knee replacement stay",
    method=(
        "Mean (follow-up minus baseline T-score) over patients with both surveys; response rate = "
        "responders / eligible"
    ),
    citation="HealthMeasures PROMIS Global Health scoring manual (v1.2 tables); Hays RD, et al. "
    "Qual Life Res 2009;18:873-80; MID: Norman GR, et al. Med Care 2003;41:582-92",
    direction="higher",
    kind="mean",
    risk_adjusted=False,
    unit="T-score points",
    attribution="operating_surgeon",
    group="patient_reported",
)


def long(ctx: Context) -> ir.Table:
    return promis.long(ctx, SPEC.measure_id, "gph", mid=False)


MEASURE = Measure(spec=SPEC, long=long)
