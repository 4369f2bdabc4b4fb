"""LACE: the LACE readmission-risk index per READM30 index stay (a column and a distribution).

van Walraven C, Dhalla IA, Bell C, et al. Derivation and validation of an index to predict early
death or unplanned readmission after discharge from hospital to the community. CMAJ
2010;182:551-7. L = LOS points (<1 d 0; 1-3 d = days; 4-6 d 4; 7-13 d 5; >=14 d 7); A = 3 for an
acute (emergent: priority EM/UR) admission; C = Charlson with the LACE weights (0-3 as is, >=4 ->
5); E = ED visits (Encounter class EMER) in the 6 months before admission, at most 4. Score 0-19.
Population and exclusions: those of READM30's index stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from cmo.measures.core import EMERGENT_PRIORITIES, source
from cmo.measures.library import readm30
from cmo.measures.library.common import skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

ED_LOOKBACK_DAYS = 182  # six months

SPEC = MeasureSpec(
    measure_id="LACE",
    version="1.0",
    title="LACE readmission risk index",
    description="Mean LACE score (0-19) of index stays; >= 10 is high risk.",
    unit_of_analysis="index stay",
    method="LACE point score per index stay",
    citation="van Walraven C, et al. CMAJ 2010;182:551-7",
    direction="lower",
    kind="mean",
    risk_adjusted=False,
    unit="points",
)


def lace_points(
    los: ir.IntegerValue, acute: ir.BooleanValue, charlson: ir.NumericValue, ed: ir.IntegerValue
) -> ir.NumericValue:
    """The LACE total as an engine expression (same table as terminology.lace_points)."""
    lp = ibis.cases((los < 1, 0), (los <= 3, los), (los <= 6, 4), (los <= 13, 5), else_=7)
    ap = ibis.cases((acute, 3), else_=0)
    cp = ibis.cases((charlson >= 4, 5), else_=charlson.cast("int64"))
    ep = ibis.least(ed, 4)
    return (lp + ap + cp + ep).cast("float64")


def ed_visits(ctx: Context) -> ir.Table:
    """ED encounters (class EMER) in the 182 days before each stay's admission."""
    enc = source(ctx.wh, "fhir__encounter")
    ed = enc.filter(enc.class_code == "EMER").select(
        ed_patient=enc.subject_id, ed_date=enc.period_start_date
    )
    s = ctx.stays.select("stay_id", "patient_id", "admit_date")
    j = s.join(ed, s.patient_id == ed.ed_patient)
    days = j.admit_date.delta(j.ed_date, unit="day")
    j = j.filter((days >= 1) & (days <= ED_LOOKBACK_DAYS))
    return j.group_by("stay_id").aggregate(ed_visits=j.ed_date.count())


def long(ctx: Context) -> ir.Table:
    index = readm30.index_stays(ctx)
    cm = ctx.comorbidity.select("stay_id", "charlson_lace")
    ed = ed_visits(ctx)
    t = index.left_join(cm, "stay_id").drop("stay_id_right")
    t = t.left_join(ed, "stay_id").drop("stay_id_right")
    score = lace_points(
        t.los_days,
        t.priority_code.isin(EMERGENT_PRIORITIES).fill_null(False),
        t.charlson_lace.fill_null(0),
        t.ed_visits.fill_null(0),
    )
    return skeleton(
        SPEC.measure_id,
        t,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=t.exclusion_reason,
        outcome=score,
        evidence_date=t.discharge_date,
    )


# 12 months: Charlson from the 12-month comorbidity lookback; ED visits of the prior 6 months.
MEASURE = Measure(spec=SPEC, long=long, lookback_months=12)
