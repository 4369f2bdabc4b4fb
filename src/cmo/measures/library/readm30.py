"""READM30: 30-day all-cause unplanned readmission, after the CMS Hospital-Wide Readmission measure.

Source: CMS Hospital-Wide All-Cause Unplanned Readmission Measure (HWR), 2024 methodology report
(Yale/YNHH CORE), and the CMS Planned Readmission Algorithm (PRA) v4.0. Index stay: an acute
stay (class IMP/ACUTE) of a patient aged >= 18 discharged alive, not against medical advice,
not transferred to another acute hospital (the last stay of a transfer chain is the index; a
stay discharged to another acute hospital, HL7 ``other-hcf`` / NUBC 02, 05, 66, 82, 85, 94, is
a transfer out even when the receiving stay is not in the data), without a vital-status
conflict, with >= 30 days between discharge and the data end, whose principal diagnosis is not
medical treatment of cancer (an AHRQ CCS 11-45 principal diagnosis with no procedure), primary
psychiatric (CCS 650-652, 654-659, 662, 670) or rehabilitation (CCS 254). Outcome: an acute
inpatient admission at any site starting 1-30 days (by date) after discharge that is not
planned. A readmission counts against one index only, the latest eligible index before it.

Planned readmissions (PRA v4.0, all four tables, ICD-10 codes from the AHRQ CCS v2019.1 maps;
``cmo.terminology.pra_codes``): a readmission is planned when (1) it has an always-planned
procedure (PR1: CCS 64, 105, 176), or (2) its principal diagnosis is always planned (PR2:
CCS 45, 254), or (3) it has a potentially planned procedure (PR3: 61 CCS categories plus the
individually listed ICD-10-PCS codes) and its principal diagnosis is not acute or a
complication of care (PR4: CCS categories plus individually listed ICD-10-CM codes). There is
no priority (elective) test: the PRA has none.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import ibis

from cmo import terminology
from cmo.measures.library.common import (
    ADULT_AGE,
    code_flags,
    episodes,
    procedure_flags,
    reason,
    skeleton,
)
from cmo.measures.spec import ATTRIBUTION_RULES, Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

WINDOW_DAYS = 30
# Principal-diagnosis exclusions of the index stay: flag column -> HWR table.
EXCLUDED_DX = {
    "_cancer_dx": "HWR_excl_cancer",
    "_psych_dx": "HWR_excl_psych",
    "_rehab_dx": "HWR_excl_rehab",
}

SPEC = MeasureSpec(
    measure_id="READM30",
    version="2.0",
    title="30-day unplanned readmission",
    description="Unplanned inpatient readmissions at any site 1-30 days after an adult index "
    "discharge (CMS Hospital-Wide Readmission rules).",
    unit_of_analysis="index stay (last stay of a transfer chain)",
    method="Observed/expected from a logistic model fitted on the reference window; planned "
    "readmissions per the CMS Planned Readmission Algorithm v4.0 (tables PR1-PR4)",
    citation="CMS Hospital-Wide All-Cause Unplanned Readmission Measure, 2024 methodology "
    "report; CMS Planned Readmission Algorithm v4.0",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


# The stay columns the index table's readers use (READM30's long rows and outcomes, LACE): the
# long-row skeleton's, the index discharge and LACE's length of stay and priority. The
# episode's other columns and the procedure flags are not read again.
INDEX_COLUMNS = (
    "stay_id",
    "patient_id",
    "site_id",
    "department_id",
    "unit_id",
    *sorted(set(ATTRIBUTION_RULES.values())),
    "discharge_date",
    "discharge_ts",
    "los_days",
    "priority_code",
)


def index_stays(ctx: Context) -> ir.Table:
    """Every stay with its index-eligibility exclusion reason (null = an eligible index).
    Read three times per build (READM30's rows and outcomes, LACE): materialised once."""
    return ctx.shared("readm30_index", lambda: _index_stays(ctx))


def _index_stays(ctx: Context) -> ir.Table:
    e = episodes(ctx)
    pf = procedure_flags(ctx)
    e = e.left_join(pf, "stay_id").drop("stay_id_right")
    e = code_flags(e, "principal_dx", EXCLUDED_DX)
    any_proc = e.any_procedure.fill_null(False)
    last_discharge = ctx.data_end - timedelta(days=WINDOW_DAYS)
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (~e.acute, "non_acute"),
        (e.vital_status_conflict, "vital_status_inconsistent"),
        (e.died_in_hospital, "died"),
        (e.transfer_out, "transfer_out"),
        (e.disposition_category == terminology.AMA, "against_medical_advice"),
        (e.discharge_date > last_discharge, "follow_up_incomplete"),
        (e._cancer_dx & ~any_proc, "cancer_medical"),
        (e._psych_dx, "psychiatric"),
        (e._rehab_dx, "rehabilitation"),
    )
    return e.select(*INDEX_COLUMNS, exclusion_reason=why)


def planned(ctx: Context) -> ir.Table:
    """Per acute stay: is it a planned admission (CMS PRA v4.0, tables PR1-PR4)?"""
    s = ctx.stays.filter(ctx.stays.acute)
    pf = procedure_flags(ctx)
    s = s.left_join(pf, "stay_id").drop("stay_id_right")
    dx_sets = {"_always_dx": "PR2_always_planned_dx", "_acute_dx": "PR4_acute_dx"}
    s = code_flags(s, "principal_dx", dx_sets)
    is_planned = (
        s.always_planned_proc.fill_null(False)
        | s._always_dx
        | (s.potentially_planned_proc.fill_null(False) & ~s._acute_dx)
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
        SPEC.attribution,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=t.exclusion_reason,
        outcome=has.cast("float64"),
        evidence_date=ibis.cases((has, t.readmit_date), else_=t.discharge_date),
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
