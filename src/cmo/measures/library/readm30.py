"""READM30: 30-day all-cause unplanned readmission, after the CMS Hospital-Wide Readmission measure.

Source: CMS Hospital-Wide All-Cause Unplanned Readmission Measure (HWR), 2024 methodology report
(Yale/YNHH CORE), and the CMS Planned Readmission Algorithm v4.0 (2023). Index stay: a patient
aged >= 18 discharged alive, not against medical advice, not transferred to another acute
hospital (the last stay of a transfer chain is the index), with >= 30 days between discharge and
the data end, principal diagnosis not medical treatment of cancer (a cancer principal diagnosis
with no procedure), primary psychiatric or rehabilitation (value sets in
``cmo/terminology/data/value_sets.csv``). Outcome: an inpatient admission at any site starting
1-30 days (by date) after discharge that is not planned. A readmission counts against one index
only, the latest eligible index before it.

Simplifications of the Planned Readmission Algorithm (documented in docs/measures/READM30.md):
the CCS-based tables PR1-PR4 are reduced to the ICD-10 prefixes of their commonest categories;
a readmission is planned when its principal diagnosis is always planned (Z51.0, Z51.1x, Z52.x),
it has an always-planned procedure (transplants), or it is elective (priority EL) with a
potentially planned procedure and a principal diagnosis that is not acute.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import ibis

from cmo.measures.library.common import (
    ADULT_AGE,
    code_flags,
    episodes,
    procedure_flags,
    reason,
    skeleton,
)
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

WINDOW_DAYS = 30
# Principal-diagnosis exclusions of the index stay: flag column -> value set.
EXCLUDED_DX = {
    "_cancer_dx": "readm_excl_cancer_dx",
    "_psych_dx": "readm_excl_psych_dx",
    "_rehab_dx": "readm_excl_rehab_dx",
}

SPEC = MeasureSpec(
    measure_id="READM30",
    version="1.0",
    title="30-day unplanned readmission",
    description="Unplanned inpatient readmissions at any site 1-30 days after an adult index "
    "discharge (CMS Hospital-Wide Readmission rules).",
    unit_of_analysis="index stay (last stay of a transfer chain)",
    method="Observed/expected from a logistic model fitted on the reference window; planned "
    "readmissions per a simplified CMS Planned Readmission Algorithm v4.0",
    citation="CMS Hospital-Wide All-Cause Unplanned Readmission Measure, 2024 methodology "
    "report; CMS Planned Readmission Algorithm v4.0",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


def index_stays(ctx: Context) -> ir.Table:
    """Every stay with its index-eligibility exclusion reason (null = an eligible index).
    Read three times per build (READM30's rows and outcomes, LACE): materialised once."""
    return ctx.shared("readm30_index", lambda: _index_stays(ctx))


def _index_stays(ctx: Context) -> ir.Table:
    e = episodes(ctx)
    pf = procedure_flags(ctx)
    e = e.left_join(pf, "stay_id").drop("stay_id_right")
    e = code_flags(e, "principal_dx", EXCLUDED_DX, ctx.stays.principal_dx)
    any_proc = e.any_procedure.fill_null(False)
    last_discharge = ctx.data_end - timedelta(days=WINDOW_DAYS)
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (e.died_in_hospital, "died"),
        (~e.chain_last | (e.discharge_disposition == "hosp"), "transfer_out"),
        (e.discharge_disposition == "aadvice", "against_medical_advice"),
        (e.discharge_date > last_discharge, "follow_up_incomplete"),
        (e._cancer_dx & ~any_proc, "cancer_medical"),
        (e._psych_dx, "psychiatric"),
        (e._rehab_dx, "rehabilitation"),
    )
    return e.mutate(exclusion_reason=why).drop(*EXCLUDED_DX)


def planned(ctx: Context) -> ir.Table:
    """Per stay: is it a planned admission (simplified CMS PRA v4.0)?"""
    s = ctx.stays
    pf = procedure_flags(ctx)
    s = s.left_join(pf, "stay_id").drop("stay_id_right")
    dx_sets = {"_always_dx": "planned_always_dx", "_acute_dx": "acute_dx"}
    s = code_flags(s, "principal_dx", dx_sets, ctx.stays.principal_dx)
    is_planned = (
        s._always_dx
        | s.always_planned_proc.fill_null(False)
        | (
            (s.priority_code == "EL").fill_null(False)
            & s.potentially_planned_proc.fill_null(False)
            & ~s._acute_dx
        )
    )
    return s.select("stay_id", "patient_id", "admit_date", planned=is_planned)


def readmissions(ctx: Context, index: ir.Table) -> ir.Table:
    """(stay_id of the index, first unplanned readmission date) for indexes with an outcome."""
    eligible = index.filter(index.exclusion_reason.isnull()).select(
        i_stay=index.stay_id,
        i_patient=index.patient_id,
        i_discharge=index.discharge_date,
        i_discharge_ts=index.discharge_ts,
    )
    r = planned(ctx)
    r = r.filter(~r.planned).select(r_stay=r.stay_id, r_patient=r.patient_id, r_admit=r.admit_date)
    pairs = eligible.join(r, eligible.i_patient == r.r_patient)
    gap = pairs.r_admit.delta(pairs.i_discharge, unit="day")
    pairs = pairs.filter((gap >= 1) & (gap <= WINDOW_DAYS) & (pairs.r_stay != pairs.i_stay))
    # A readmission counts against the latest eligible index before it (ties: higher stay id).
    latest = pairs.group_by("r_stay").aggregate(
        i_stay=pairs.i_stay.argmax(
            pairs.i_discharge_ts.epoch_seconds().cast("string") + "|" + pairs.i_stay
        ),
        r_admit=pairs.r_admit.min(),
    )
    return latest.group_by("i_stay").aggregate(readmit_date=latest.r_admit.min())


def long(ctx: Context) -> ir.Table:
    index = index_stays(ctx)
    # Read twice per build (the model's fitting sample, then the long rows): computed once.
    readm = ctx.shared("readm30_outcome", lambda: readmissions(ctx, index))
    t = index.left_join(readm, index.stay_id == readm.i_stay)
    has = t.readmit_date.notnull()
    return skeleton(
        SPEC.measure_id,
        t,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=t.exclusion_reason,
        outcome=has.cast("float64"),
        evidence_date=ibis.cases((has, t.readmit_date), else_=t.discharge_date),
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
