"""MORT30: 30-day all-cause mortality from admission, adult acute inpatient stays, risk-adjusted.

Method after the CMS 30-day risk-standardised mortality measures (Krumholz HM, et al.
Circulation 2006;113:1683-92; CMS Hybrid Hospital-Wide Mortality (HWM) measure methodology
report, 2022; CMS AMI/HF/pneumonia mortality measures methodology, 2024): death from any cause
within 30 days of the first admission of the episode, in or out of hospital, from
Patient.deceasedDateTime or an in-hospital death.

Cohort rules (CMS), in the order the exclusion reasons are given:
- age unknown or under 18; transferred in from another acute hospital (the chain's death
  counts against the first hospital); non-acute stay (class NONAC);
- a vital-status conflict in the chain (``vital_status_inconsistent``);
- discharged against medical advice (any stay of the chain; CMS: "discharged against medical
  advice");
- hospice before admission: the patient was discharged to hospice (HL7 ``hosp``, NUBC 50/51)
  from a stay ending in the 12 months before this admission (CMS: "enrolled in the Medicare
  hospice program any time in the 12 months prior to the index admission"; enrolment outside
  our stays is not visible in FHIR encounters);
- the 30-day window ends after the data end (``follow_up_incomplete``);
- one index stay per patient and calendar year of admission, selected at random among the
  eligible ones (CMS: "for patients with more than one eligible admission in a year, one is
  randomly selected"): the stay with the lowest MD5 of ``patient id | stay id | SEED``, the
  same on every engine and every build; the others get reason ``not_selected_index``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import ibis
from ibis import _

from cmo import terminology
from cmo.measures.library.common import ADULT_AGE, episodes, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

WINDOW_DAYS = 30
HOSPICE_LOOKBACK_DAYS = 365
SEED = "cmo-mort30-1"  # change it to draw another (equally valid) index sample

SPEC = MeasureSpec(
    measure_id="MORT30",
    version="2.0",
    title="30-day mortality",
    description="Deaths from any cause within 30 days of admission; one random index stay per "
    "patient-year among adult acute stays (CMS 30-day mortality cohort rules).",
    unit_of_analysis="index stay (first stay of a transfer chain; one per patient-year)",
    method="Observed/expected from a logistic model fitted on the reference window",
    citation="CMS 30-day risk-standardized mortality measures (Krumholz 2006; CMS Hybrid "
    "Hospital-Wide Mortality methodology report 2022)",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
)


def hospice_before(ctx: Context) -> ir.Table:
    """(h_stay): stays whose patient was discharged to hospice from a stay ending 0-365 days
    before the admission."""
    s = ctx.stays
    hospice = s.filter(s.disposition_category == terminology.HOSPICE).select(
        h_patient=s.patient_id, h_discharge=s.discharge_date, h_id=s.stay_id
    )
    pairs = s.select("stay_id", "patient_id", "admit_date").join(
        hospice, _.patient_id == hospice.h_patient
    )
    days = pairs.admit_date.delta(pairs.h_discharge, unit="day")
    hit = (days >= 0) & (days <= HOSPICE_LOOKBACK_DAYS) & (pairs.h_id != pairs.stay_id)
    return pairs.filter(hit).select(h_stay=pairs.stay_id).distinct()


def long(ctx: Context) -> ir.Table:
    e = episodes(ctx)
    # A membership test, not a left join: DuckDB cannot size the distinct hospice stays and
    # built the join's hash table on the 1M episodes instead (~0.7 s at 1M stays).
    hospice = e.stay_id.isin(hospice_before(ctx).h_stay)
    last_admit = ctx.data_end - timedelta(days=WINDOW_DAYS)
    days_to_death = e.death_date.delta(e.chain_admit_date, unit="day")
    died_30 = days_to_death.notnull() & (days_to_death >= 0) & (days_to_death <= WINDOW_DAYS)
    died = died_30.fill_null(False) | e.chain_died
    why = reason(
        (e.age.isnull(), "age_unknown"),
        (e.age < ADULT_AGE, "age_under_18"),
        (e.transfer_in, "transfer_in"),
        (~e.acute, "non_acute"),
        (e.chain_conflict, "vital_status_inconsistent"),
        (e.chain_ama, "against_medical_advice"),
        (hospice, "hospice_before_admission"),
        (e.chain_admit_date > last_admit, "follow_up_incomplete"),
    )
    e = e.mutate(_why=why)
    e = _select_one_per_year(e)
    death_evidence = ibis.coalesce(e.chain_death_date, e.death_date)
    return skeleton(
        SPEC.measure_id,
        e,
        SPEC.attribution,
        in_population=e.discharge_date <= ctx.data_end,
        exclusion_reason=e._why,
        outcome=died.cast("float64"),
        evidence_date=ibis.cases((died, death_evidence), else_=e.discharge_date),
    )


def _select_one_per_year(e: ir.Table) -> ir.Table:
    """Keep one eligible stay per patient and calendar year of admission (lowest seeded MD5);
    the other eligible ones get ``_why`` = ``not_selected_index``."""
    # The key is hashed for the eligible stays only, and the pick is joined back by stay id
    # (the key holds the stay id, so the lowest key names one stay).
    eligible = e.filter(e._why.isnull())
    key = (eligible.patient_id.fill_null("") + "|" + eligible.stay_id + "|" + SEED).hexdigest("md5")
    eligible = eligible.select("patient_id", "stay_id", _key=key, _year=_.chain_admit_date.year())
    chosen = eligible.group_by(["patient_id", "_year"]).aggregate(
        _c_stay=eligible.stay_id.argmin(eligible._key)
    )
    e = e.left_join(chosen.select("_c_stay"), e.stay_id == chosen._c_stay)
    return e.mutate(
        _why=ibis.cases(
            (e._why.notnull(), e._why),
            (e._c_stay.isnull(), ibis.literal("not_selected_index")),
            else_=ibis.null("string"),
        )
    ).drop("_c_stay")


# 12 months: hospice enrolment in the 12 months before admission, comorbidity lookback.
MEASURE = Measure(spec=SPEC, long=long, risk_model=True, lookback_months=12)
