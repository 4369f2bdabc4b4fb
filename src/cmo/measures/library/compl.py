"""COMPL: post-operative complications by operating surgeon, risk-adjusted.

Method: a stay with an operating-room procedure counts a complication when a secondary
diagnosis not present on admission (POA N or U, the CMS HAC rule: "hospital-acquired" is POA
N or U; a missing POA flag does not count) is on one of the complication lists:
- the AHRQ PSI v2024 numerator lists: pressure ulcer (DECUBVD), iatrogenic pneumothorax
  (IATROID), fracture (FXID), postoperative hemorrhage/hematoma (POHMRI2D), acute kidney failure
  (PHYSIDB), acute respiratory failure (ACURF2D), DVT/PE (DEEPVIB, PULMOID), sepsis (SEPTI2D),
  wound disruption (ABWALLCD), accidental puncture/laceration (APLD);
- the CMS Hospital-Acquired Conditions (FY2024 HAC list, ICD-10 MS-DRG Definitions Manual
  Appendix I): surgical site infection, retained foreign object, air embolism, blood
  incompatibility, catheter-associated bloodstream and urinary infection, poor glycemic
  control, falls and trauma, DVT/PE (``HAC_*`` lists of ``ahrq_psi_v2024_codes.csv``).
Population: adult acute stays whose principal procedure has a performer (the operating
surgeon, UB-04 FL74) and with an operating-room procedure (AHRQ ORPROC patterns). Exclusions:
age unknown or under 18; non-acute; obstetric or neonatal principal diagnosis (MDC 14/15
lists); a complication-list diagnosis as the principal diagnosis (the reason for admission,
not a complication). Attribution: the operating surgeon. Risk adjustment: cmo's logistic model
(age, sex, emergency admission, Elixhauser, principal diagnosis body system; docs/measures/
COMPL.md). At the practitioner level the shared funnel (exact Poisson limits, 95%/99.8%) and
the statistics helper's shrinkage and q-values apply; no signal under 25 cases or 1 expected.
Complications after discharge (readmissions) are out of scope: READM30 counts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmo.measures.library.common import ADULT_AGE, reason, skeleton
from cmo.measures.library.psi_rules import VERSION, dx_list_table, stay_flags
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

PSI_LISTS = (
    "DECUBVD", "IATROID", "FXID", "POHMRI2D", "PHYSIDB", "ACURF2D", "DEEPVIB", "PULMOID",
    "SEPTI2D", "ABWALLCD", "APLD",
)  # fmt: skip
HAC_LISTS = (
    "HAC_SSI", "HAC_FOREIGN", "HAC_AIREMB", "HAC_BLOODINC", "HAC_CLABSI", "HAC_CAUTI",
    "HAC_GLYCEMIC", "HAC_FALLS", "HAC_VTE",
)  # fmt: skip
HOSPITAL_ACQUIRED = ("n", "u")  # CMS HAC: POA N (not present) or U (documentation insufficient)

SPEC = MeasureSpec(
    measure_id="COMPL",
    version=f"1.0 (AHRQ PSI {VERSION} and CMS FY2024 HAC code lists)",
    title="Post-operative complications (by surgeon)",
    description="Stays with an operating-room procedure and a complication not present on "
    "admission (AHRQ PSI and CMS HAC lists), attributed to the operating surgeon.",
    unit_of_analysis="inpatient stay with an OR procedure and an operating surgeon",
    method="Observed/expected from a logistic model fitted on the reference window; "
    "practitioner funnel with exact Poisson limits",
    citation="AHRQ PSI v2024 numerator code lists; CMS Hospital-Acquired Conditions FY2024 "
    "(ICD-10 MS-DRG Definitions Manual, Appendix I); POA N/U rule of the CMS HAC program",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="%",
    attribution="operating_surgeon",
    group="harm",
)


def complication_stays(ctx: Context) -> ir.Table:
    """(``_cs``, ``complication``) per stay with any listed diagnosis: is one of them a
    secondary diagnosis acquired in hospital (POA N or U)."""
    dx = ctx.wh.table("core__stay_diagnosis").select("stay_id", "code", "is_principal", "poa")
    lists = dx_list_table(set(PSI_LISTS + HAC_LISTS)).select("_code").distinct()
    d = dx.join(lists, dx.code == lists._code)
    new = ~d.is_principal & d.poa.isin(HOSPITAL_ACQUIRED).fill_null(False)
    return d.group_by(_cs=d.stay_id).aggregate(complication=new.any())


def long(ctx: Context) -> ir.Table:
    t = stay_flags(ctx)
    c = complication_stays(ctx)
    t = t.left_join(c, t.stay_id == c._cs)
    t = t.filter(t.surgeon_id.notnull() & (t.or_count > 0))
    why = reason(
        (t.age.isnull(), "age_unknown"),
        (t.age < ADULT_AGE, "age_under_18"),
        (~t.acute, "non_acute"),
        (t.pdx_MDC14PRINDX, "obstetric_principal_dx"),
        (t.pdx_MDC15PRINDX, "neonatal_principal_dx"),
    )
    return skeleton(
        SPEC.measure_id,
        t,
        SPEC.attribution,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=why,
        outcome=t.complication.fill_null(False).cast("float64"),
        evidence_date=t.discharge_date,
    )


MEASURE = Measure(spec=SPEC, long=long, risk_model=True)
