"""The AHRQ Patient Safety Indicators' shared rules: code lists, stay flags, each PSI's logic.

Method: AHRQ Quality Indicators, Patient Safety Indicators (PSI) v2024, hospital level: the
technical specifications of PSI 03, 06, 08, 09, 10, 11, 12, 13, 14 and 15 and the rules of
AHRQ's SAS QI software v2024 (``PSI_HOSP_MEASURES.SAS``, AHRQ/AHRQ-Quality-Indicators). The
code lists (SAS format names such as ``DECUBVD``) are data: ``cmo/measures/data/
ahrq_psi_v2024_codes.csv``, made by ``scripts/extract_ahrq_psi.py`` (see
``docs/measures/PSI.md`` for where the lists come from and where cmo differs from AHRQ).

Everything is set-based in the engine: diagnoses are joined to the ICD-10-CM lists by exact
code, the distinct procedure codes are matched to the ICD-10-PCS patterns (SQL ``LIKE``) and
joined back, and one table per build (``core__psi_stay``, ``Context.shared``) holds every flag
the PSIs read, one row per stay; each PSI module is then a select over it. That table stores
the list flags as bit masks (one BIGINT per diagnosis role and one for the procedures, each
the ``bit_or`` of the codes' list bits, as ``core.comorbidity`` does for Elixhauser) and only
the procedure aggregates and stay columns the rules read; :func:`stay_flags` reads the masks
back as the named booleans (``sdx_FXID``, ``pr_ECMOP``) the rules use.

AHRQ's macros, as read here (the stay's diagnoses are DX1 = principal, DX2.. = secondary):
``MDX`` any diagnosis, ``MDX1`` the principal, ``MDX2`` a secondary (whatever its POA flag),
``MDX2Q2`` a secondary present on admission (POA Y or W), ``MDXAQ2`` any diagnosis POA Y/W;
``MPR`` any procedure; procedure days count from admission (AHRQ ``PRDAY``) and a timing rule
is skipped when a day is unknown, as AHRQ's ``PRDAY = 0`` option does.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures.core import bit_or, source
from cmo.measures.library.common import ADULT_AGE, reason, skeleton
from cmo.measures.spec import ATTRIBUTION_RULES, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

VERSION = "v2024"
CODES_FILE = "ahrq_psi_v2024_codes.csv"
PARAMETERS_FILE = "ahrq_psi_v2024_parameters.csv"
POA_YES = ("y", "w")  # present on admission: Y, or W (clinically undetermined), as AHRQ reads

# (list, role) flags of the diagnoses: pdx principal, sdx secondary, sdxpoa secondary POA Y/W,
# any (principal or secondary), anypoa any POA Y/W.
DX_ROLES: dict[str, tuple[str, ...]] = {
    "any": (
        "BURNDX", "EXFOLIATXD", "CTRAUMD", "PLEURAD", "COAGDID", "MALHYPD", "ABWALLCD", "PROSFXID",
    ),
    "pdx": (
        "DECUBVD", "MDC14PRINDX", "MDC15PRINDX", "IATROID", "IATPTXD", "FXID", "POHMRI2D",
        "MEDBLEEDD", "PHYSIDB", "URINARYOBSID", "CARDIID", "CARDRID", "SHOCKID", "CRENLFD",
        "ACURF3D", "DEEPVIB", "PULMOID", "SEPTI2D", "INFECID", "ABWALLCD", "APLD",
    ),
    "sdx": (
        "DECUBVD", "IATROID", "FXID", "POHMRI2D", "PHYSIDB", "ACURF2D", "DEEPVIB",
        "PULMOID", "HITD", "SEPTI2D", "APLD",
    ),
    "sdxpoa": (
        "DECUBVD", "IATROID", "IATPTXD", "FXID", "POHMRI2D", "MEDBLEEDD", "PHYSIDB", "CARDIID",
        "CARDRID", "SHOCKID", "CRENLFD", "ACURF3D", "DEEPVIB", "PULMOID", "SEPTI2D", "INFECID",
        "ABWALLCD", "APLD",
    ),
    "anypoa": ("SOLKIDD", "NEUROMD", "TRACHID", "DGNEUID", "NEURTRAD"),
}  # fmt: skip
# Which aggregate of which procedure list the rules read, and nothing more (the flag table is
# 1 row per stay, so every column costs): ``pr`` any procedure in the list (``MPR``), ``first``
# and ``last`` the first and last day of one, ``orin`` how many OR procedures are in the list,
# ``or_day_not`` the first OR-procedure day not in the list (AHRQ %ORDAY(fmt)). A rule reading
# an undeclared column fails (no such column); tests/measures/test_psi.py checks every declared
# column is read.
PROC_FLAGS: dict[str, tuple[str, ...]] = {
    "pr": (
        "THORAIP", "CARDSIP", "HEMOTH2P", "DIALYIP", "PNEPHREP", "NUCRANP", "PRESOPP", "LUNGCIP",
        "LUNGTRANSP", "ECMOP", "ABDOMIPOPEN", "ABDOMIPOTHER", "RECLOIP",
    ),
    "first": (
        "HEMOTH2P", "THROMBOLYTICP", "DIALYIP", "DIALY2P", "TRACHIP", "VENACIP", "THROMP",
        "ABDOMIPOPEN", "ABDOMIPOTHER",
    ),
    "last": ("PR9604P", "PR9671P", "PR9672P", "RECLOIP", "ABDOMIPOPEN", "ABDOMIPOTHER"),
    "orin": ("HEMOTH2P", "TRACHIP", "VENACIP", "THROMP"),
    "or_day_not": ("HEMOTH2P", "TRACHIP", "VENACIP", "THROMP"),
}  # fmt: skip
PROC_LISTS = tuple(sorted({n for names in PROC_FLAGS.values() for n in names}))
# One bit per list: a stay's diagnoses (per role) and procedures are each one BIGINT, the OR of
# its codes' masks (bit 63 unused, so a mask is never negative).
DX_BITS = {n: 1 << i for i, n in enumerate(sorted({n for v in DX_ROLES.values() for n in v}))}
PROC_BITS = {n: 1 << i for i, n in enumerate(("ORPROC", *PROC_LISTS))}
# The stay columns the rules and the long rows read (``skeleton``, every attribution rule).
STAY_COLUMNS = (
    "stay_id", "patient_id", "discharge_date", "site_id", "department_id", "unit_id",
    *sorted(set(ATTRIBUTION_RULES.values())), "age", "acute", "principal_dx", "los_days",
    "priority",
)  # fmt: skip
PSI_IDS = ("PSI03", "PSI06", "PSI08", "PSI09", "PSI10", "PSI11", "PSI12", "PSI13", "PSI14", "PSI15")


@cache
def code_rows() -> tuple[tuple[str, str, str], ...]:
    """(list, system, value) rows of the shipped code lists (icd10cm: undotted code;
    icd10pcs: SQL LIKE pattern)."""
    path = resources.files("cmo.measures").joinpath("data", CODES_FILE)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return tuple((r["list"], r["system"], r["value"]) for r in csv.DictReader(lines))


@cache
def parameters() -> dict[str, dict[str, float]]:
    """PSI 90 parameters per component (weight, reference_rate, signal variances), AHRQ v2024."""
    path = resources.files("cmo.measures").joinpath("data", PARAMETERS_FILE)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return {
        r["psi"]: {k: float(v) for k, v in r.items() if k != "psi"} for r in csv.DictReader(lines)
    }


def dx_list_table(lists: set[str] | None = None) -> ir.Table:
    """(``_list``, ``_code``): the ICD-10-CM lists as a small in-memory table."""
    rows = [(n, v) for n, s, v in code_rows() if s == "icd10cm" and (lists is None or n in lists)]
    frame = pd.DataFrame(rows, columns=["_list", "_code"])
    return ibis.memtable(frame, schema=ibis.schema({"_list": "string", "_code": "string"}))


def pcs_pattern_table(lists: set[str] | None = None) -> ir.Table:
    rows = [(n, v) for n, s, v in code_rows() if s == "icd10pcs" and (lists is None or n in lists)]
    frame = pd.DataFrame(rows, columns=["_list", "_pattern"])
    return ibis.memtable(frame, schema=ibis.schema({"_list": "string", "_pattern": "string"}))


def procedure_days(ctx: Context) -> ir.Table:
    """(stay_id, code, first_day, last_day): each procedure of a stay with the days from
    admission of its first and last performance (FHIR Procedure.performed[x]); null days when
    only a Claim carries the code."""
    proc = source(ctx.wh, "fhir__procedure")
    proc = proc.filter(proc.status.isnull() | (proc.status != "entered-in-error"))
    when = ibis.coalesce(proc.performed_date_time_ts, proc.performed_period_start_ts).date()
    dated = (
        proc.select(
            _stay=proc.encounter_id, _pcode=proc.code.replace(".", "").strip().upper(), _d=when
        )
        .group_by("_stay", "_pcode")
        .aggregate(_first=ibis._._d.min(), _last=ibis._._d.max())
    )
    p = ctx.procedures.select("stay_id", "code")
    p = p.left_join(dated, (p.stay_id == dated._stay) & (p.code == dated._pcode))
    adm = ctx.stays.select(_s=ctx.stays.stay_id, _adm=ctx.stays.admit_date)
    p = p.join(adm, p.stay_id == adm._s)
    return p.select(
        "stay_id",
        "code",
        first_day=p._first.delta(p._adm, unit="day").cast("int64"),
        last_day=p._last.delta(p._adm, unit="day").cast("int64"),
    )


def _bit(mask: Any, bit: int) -> ir.BooleanValue:
    """Is ``bit`` set in ``mask`` (an int64 literal, so both engines compare BIGINTs)."""
    return (mask & ibis.literal(bit, "int64")) != 0


@cache
def _dx_mask_rows() -> tuple[tuple[str, int], ...]:
    """(code, mask): each ICD-10-CM code of a list the rules read, with its lists' bits."""
    masks: dict[str, int] = {}
    for name, system, value in code_rows():
        if system == "icd10cm" and name in DX_BITS:
            masks[value] = masks.get(value, 0) | DX_BITS[name]
    return tuple(sorted(masks.items()))


def dx_mask_table() -> ir.Table:
    """(``_code``, ``_mask``): the diagnosis codes' list bits (``DX_BITS``), a small table."""
    frame = pd.DataFrame(list(_dx_mask_rows()), columns=["_code", "_mask"])
    return ibis.memtable(frame, schema=ibis.schema({"_code": "string", "_mask": "int64"}))


def _code_masks(codes: ir.Table) -> ir.Table:
    """Each distinct procedure ``code`` that matches a PCS pattern of ORPROC or a list the rules
    read, with ``_pmask``, the bits (``PROC_BITS``) of its lists: a small cross join of the
    distinct codes and the patterns, then one row per code."""
    pats = pcs_pattern_table(set(PROC_BITS))
    bits = ibis.memtable(
        pd.DataFrame(list(PROC_BITS.items()), columns=["_list", "_bit"]),
        schema=ibis.schema({"_list": "string", "_bit": "int64"}),
    )
    pats = pats.join(bits, "_list")
    j = codes.cross_join(pats)
    m = j.filter(j.code.like(j._pattern))
    return m.group_by("code").aggregate(_pmask=bit_or(m._bit))


def stay_flags(ctx: Context) -> ir.Table:
    """One row per stay with every flag the PSIs read (see module doc): the scratch table
    built once per build (``_stay_flags``), its masks read as named booleans (``decode``)."""
    return decode(ctx.shared("psi_stay", lambda: _stay_flags(ctx)))


def decode(t: ir.Table) -> ir.Table:
    """The flag table with its bit masks as the named booleans the rules read:
    ``<role>_<LIST>`` for the diagnoses (``DX_ROLES``) and ``pr_<LIST>`` for the procedures."""
    flags: dict[str, Any] = {
        f"{role}_{name}": _bit(t[f"dx_{role}"], DX_BITS[name])
        for role, names in DX_ROLES.items()
        for name in names
    }
    flags.update({f"pr_{n}": _bit(t.pr_mask, PROC_BITS[n]) for n in PROC_FLAGS["pr"]})
    return t.mutate(**flags).drop("pr_mask", *[f"dx_{role}" for role in DX_ROLES])


def _dx_flags(ctx: Context) -> tuple[ir.Table, ir.Table]:
    """(``_dxs``, ``dx_<role>``): per stay and diagnosis role, the OR of its listed codes'
    masks; and (``_pus``, ``psi03_new_site``), PSI 03's site rule."""
    dx = ctx.wh.table("core__stay_diagnosis").select("stay_id", "code", "is_principal", "poa")
    masks = dx_mask_table()
    d = dx.join(masks, dx.code == masks._code)
    poa = d.poa.isin(POA_YES).fill_null(False)
    sec = ~d.is_principal
    roles = {"pdx": d.is_principal, "sdx": sec, "sdxpoa": sec & poa, "anypoa": poa}
    aggs = {f"dx_{r}": bit_or(ibis.ifelse(c, d._mask, 0)) for r, c in roles.items()}
    dxf = d.group_by(_dxs=d.stay_id).aggregate(dx_any=bit_or(d._mask), **aggs)
    # PSI 03 is site-specific: a stage 3-4/unstageable/DTI pressure ulcer not POA at a site
    # (the code's first five characters, e.g. L8915 sacral region) with none POA there.
    pu = d.filter(_bit(d._mask, DX_BITS["DECUBVD"]) & sec)
    sites = pu.group_by(_pus=pu.stay_id, _site=pu.code.substr(0, 5)).aggregate(
        _new=(~pu.poa.isin(POA_YES).fill_null(False)).any(),
        _old=pu.poa.isin(POA_YES).fill_null(False).any(),
    )
    puf = sites.group_by("_pus").aggregate(psi03_new_site=(sites._new & ~sites._old).any())
    return dxf, puf


def _proc_flags(ctx: Context) -> ir.Table:
    """(``_prs``, the ``PROC_FLAGS`` aggregates, ``pr_mask``, ``or_count``, ``or_day``) per
    stay: the distinct codes matched to the PCS patterns once, then joined back."""
    days = procedure_days(ctx)
    # The codes' masks depend on the code alone: take the distinct codes from the procedure
    # table, not from ``days`` (which would compute its joins a second time).
    p = days.join(_code_masks(ctx.procedures.select("code").distinct()), "code")
    is_or = _bit(p._pmask, PROC_BITS["ORPROC"])
    aggs: dict[str, Any] = {
        "pr_mask": bit_or(p._pmask),
        "or_count": is_or.sum(),
        "or_day": p.first_day.min(where=is_or),
    }
    for name in PROC_FLAGS["first"]:
        aggs[f"first_{name}"] = p.first_day.min(where=_bit(p._pmask, PROC_BITS[name]))
    for name in PROC_FLAGS["last"]:
        aggs[f"last_{name}"] = p.last_day.max(where=_bit(p._pmask, PROC_BITS[name]))
    for name in PROC_FLAGS["orin"]:
        aggs[f"orin_{name}"] = (_bit(p._pmask, PROC_BITS[name]) & is_or).sum()
    for name in PROC_FLAGS["or_day_not"]:
        # AHRQ %ORDAY(fmt): the first OR procedure that is not itself in the list.
        hit = _bit(p._pmask, PROC_BITS[name])
        aggs[f"or_day_not_{name}"] = p.first_day.min(where=is_or & ~hit)
    return p.group_by(_prs=p.stay_id).aggregate(**aggs)


def _stay_flags(ctx: Context) -> ir.Table:
    """The flag table as stored (masks not decoded): the stays' columns the rules read, their
    MS-DRG type and MDC, and the diagnosis and procedure aggregates, one row per stay."""
    dxf, puf = _dx_flags(ctx)
    prf = _proc_flags(ctx)
    s = ctx.stays.select(*STAY_COLUMNS)
    drg = ctx.drg.select(_drgs=ctx.drg.stay_id, mdc=ctx.drg.mdc, drg_type=ctx.drg.drg_type)
    t = s.left_join(drg, s.stay_id == drg._drgs)
    t = t.left_join(dxf, t.stay_id == dxf._dxs)
    t = t.left_join(puf, t.stay_id == puf._pus)
    t = t.left_join(prf, t.stay_id == prf._prs)
    fills: dict[str, Any] = {f"dx_{role}": t[f"dx_{role}"].fill_null(0) for role in DX_ROLES}
    fills["psi03_new_site"] = t.psi03_new_site.fill_null(False)
    fills["pr_mask"] = t.pr_mask.fill_null(0)
    fills["or_count"] = t.or_count.fill_null(0)
    fills.update({f"orin_{n}": t[f"orin_{n}"].fill_null(0) for n in PROC_FLAGS["orin"]})
    return t.mutate(**fills).drop("_drgs", "_dxs", "_pus", "_prs")


# -- each PSI's rules -------------------------------------------------------------------------
def _medsurg(t: ir.Table) -> ir.BooleanValue:
    """AHRQ MEDIC2R/SURGI2R: a medical or surgical MS-DRG (CMS Table 5 type M or S)."""
    return t.drg_type.isin(("M", "S")).fill_null(False)


def _surgical_or(t: ir.Table) -> ir.BooleanValue:
    """AHRQ ``SURGIDR and ORCNT > 0``: a surgical MS-DRG with an operating-room procedure."""
    return (t.drg_type == "S").fill_null(False) & (t.or_count > 0)


def _elective(t: ir.Table) -> ir.BooleanValue:
    """AHRQ ``ATYPE = 3``: an elective admission (Encounter.priority EL)."""
    return (t.priority == "elective").fill_null(False)


def _before(day: Any, ref: Any, same_day: bool) -> ir.BooleanValue:
    """``day`` < ``ref`` (or <= with ``same_day``); false when either day is unknown."""
    cond = day <= ref if same_day else day < ref
    return cond.fill_null(False)


def _common(t: ir.Table) -> list[tuple[Any, str]]:
    """Exclusions every PSI shares (AHRQ deletes these records before any PSI)."""
    return [
        (t.age.isnull(), "age_unknown"),
        (t.age < ADULT_AGE, "age_under_18"),
        (~t.acute, "non_acute"),
        (t.principal_dx.isnull(), "no_principal_dx"),
        (t.pdx_MDC14PRINDX, "obstetric_principal_dx"),
        (t.pdx_MDC15PRINDX, "neonatal_principal_dx"),
    ]


def rules(psi: str, t: ir.Table) -> tuple[ir.BooleanValue, list[tuple[Any, str]], Any]:
    """(denominator inclusion, ordered exclusions, numerator) of one PSI over ``stay_flags``.

    A stay whose numerator diagnosis is present on admission is excluded with reason ``poa``
    (AHRQ's ``QPPS`` flag); the last exclusions listed are the POA ones."""
    c = _common(t)
    if psi == "PSI03":  # pressure ulcer rate
        num = t.psi03_new_site
        return (
            _medsurg(t),
            [
                *c,
                (t.los_days < 3, "los_under_3"),
                (t.pdx_DECUBVD, "principal_pressure_ulcer"),
                (t.any_BURNDX, "severe_burn"),
                (t.any_EXFOLIATXD, "exfoliative_skin_disorder"),
                (t.sdx_DECUBVD & ~num & t.sdxpoa_DECUBVD, "poa"),
            ],
            num,
        )
    if psi == "PSI06":  # iatrogenic pneumothorax rate
        return (
            _medsurg(t),
            [
                *c,
                (t.pdx_IATROID | t.pdx_IATPTXD, "principal_pneumothorax"),
                (t.any_CTRAUMD, "chest_trauma"),
                (t.any_PLEURAD, "pleural_effusion"),
                (t.pr_THORAIP, "thoracic_surgery"),
                (t.pr_CARDSIP, "cardiac_procedure"),
                (t.sdxpoa_IATROID | t.sdxpoa_IATPTXD, "poa"),
            ],
            t.sdx_IATROID,
        )
    if psi == "PSI08":  # in-hospital fall-associated fracture rate
        return (
            _medsurg(t),
            [
                *c,
                (t.pdx_FXID, "principal_fracture"),
                (t.any_PROSFXID, "prosthesis_associated_fracture"),
                (t.sdxpoa_FXID, "poa"),
            ],
            t.sdx_FXID,
        )
    if psi == "PSI09":  # postoperative hemorrhage or hematoma rate
        hem_only = t.or_count == t.orin_HEMOTH2P
        return (
            _surgical_or(t),
            [
                *c,
                (t.pdx_POHMRI2D, "principal_hemorrhage"),
                (hem_only, "only_or_procedure_is_treatment"),
                (
                    _before(t.first_HEMOTH2P, t.or_day_not_HEMOTH2P, False),
                    "treatment_before_first_or",
                ),
                (t.any_COAGDID, "coagulation_disorder"),
                (t.pdx_MEDBLEEDD, "principal_anticoagulant_bleeding"),
                (_before(t.first_THROMBOLYTICP, t.first_HEMOTH2P, True), "thrombolytic_before"),
                (t.sdxpoa_POHMRI2D | t.sdxpoa_MEDBLEEDD, "poa"),
            ],
            t.sdx_POHMRI2D & t.pr_HEMOTH2P,
        )
    if psi == "PSI10":  # postoperative acute kidney injury requiring dialysis rate
        return (
            _surgical_or(t) & _elective(t),
            [
                *c,
                (t.pdx_PHYSIDB, "principal_acute_kidney_injury"),
                (t.pdx_URINARYOBSID, "principal_urinary_obstruction"),
                (_before(t.first_DIALYIP, t.or_day, True), "dialysis_before_first_or"),
                (_before(t.first_DIALY2P, t.or_day, True), "dialysis_access_before_first_or"),
                (
                    t.pdx_CARDIID | t.pdx_CARDRID | t.pdx_SHOCKID | t.pdx_CRENLFD,
                    "principal_cardiac_shock_or_ckd5",
                ),
                (t.anypoa_SOLKIDD & t.pr_PNEPHREP, "solitary_kidney_partial_nephrectomy"),
                (
                    t.sdxpoa_PHYSIDB
                    | t.sdxpoa_CARDIID
                    | t.sdxpoa_CARDRID
                    | t.sdxpoa_SHOCKID
                    | t.sdxpoa_CRENLFD,
                    "poa",
                ),
            ],
            t.sdx_PHYSIDB & t.pr_DIALYIP,
        )
    if psi == "PSI11":  # postoperative respiratory failure rate
        after = lambda last, days: (last >= t.or_day + days).fill_null(False)  # noqa: E731
        num = (
            t.sdx_ACURF2D
            | after(t.last_PR9604P, 1)
            | after(t.last_PR9671P, 2)
            | after(t.last_PR9672P, 0)
        )
        return (
            _surgical_or(t) & _elective(t),
            [
                *c,
                (t.pdx_ACURF3D, "principal_respiratory_failure"),
                (t.or_count == t.orin_TRACHIP, "only_or_procedure_is_tracheostomy"),
                (
                    _before(t.first_TRACHIP, t.or_day_not_TRACHIP, False),
                    "tracheostomy_before_first_or",
                ),
                (t.any_MALHYPD, "malignant_hyperthermia"),
                (t.anypoa_NEUROMD, "neuromuscular_disorder"),
                (t.anypoa_TRACHID, "tracheostomy_present"),
                (t.pr_NUCRANP, "craniofacial_procedure"),
                (t.pr_PRESOPP, "esophageal_resection"),
                (t.pr_LUNGCIP, "lung_cancer_procedure"),
                (t.anypoa_DGNEUID, "degenerative_neurological_disorder"),
                (t.pr_LUNGTRANSP, "lung_transplant"),
                ((t.mdc == "04").fill_null(False), "mdc_4_respiratory"),
                (t.sdxpoa_ACURF3D, "poa"),
            ],
            num,
        )
    if psi == "PSI12":  # perioperative pulmonary embolism or deep vein thrombosis rate
        only = (t.or_count == t.orin_VENACIP) | (t.or_count == t.orin_THROMP)
        only = only | (t.or_count == t.orin_VENACIP + t.orin_THROMP)
        return (
            _surgical_or(t),
            [
                *c,
                (t.pdx_DEEPVIB | t.pdx_PULMOID, "principal_dvt_pe"),
                (t.sdx_HITD, "heparin_induced_thrombocytopenia"),
                ((t.or_day >= 10).fill_null(False), "first_or_day_10_or_later"),
                (
                    _before(t.first_VENACIP, t.or_day_not_VENACIP, True),
                    "vena_cava_interruption_before_or",
                ),
                (
                    _before(t.first_THROMP, t.or_day_not_THROMP, True),
                    "pulmonary_thrombectomy_before_or",
                ),
                (only, "only_or_procedure_is_vena_cava_or_thrombectomy"),
                (t.anypoa_NEURTRAD, "acute_brain_or_spinal_injury"),
                (t.pr_ECMOP, "ecmo"),
                (t.sdxpoa_DEEPVIB | t.sdxpoa_PULMOID, "poa"),
            ],
            t.sdx_DEEPVIB | t.sdx_PULMOID,
        )
    if psi == "PSI13":  # postoperative sepsis rate
        return (
            _surgical_or(t) & _elective(t),
            [
                *c,
                (t.pdx_SEPTI2D, "principal_sepsis"),
                (t.pdx_INFECID, "principal_infection"),
                ((t.or_day >= 10).fill_null(False), "first_or_day_10_or_later"),
                (t.sdxpoa_SEPTI2D | t.sdxpoa_INFECID, "poa"),
            ],
            t.sdx_SEPTI2D,
        )
    if psi == "PSI14":  # postoperative wound dehiscence rate
        first_abd = ibis.least(t.first_ABDOMIPOPEN, t.first_ABDOMIPOTHER)
        return (
            t.pr_ABDOMIPOPEN | t.pr_ABDOMIPOTHER,
            [
                *c,
                (_before(t.last_RECLOIP, first_abd, True), "reclosure_before_abdominal_procedure"),
                (t.pdx_ABWALLCD, "principal_wound_disruption"),
                (t.los_days < 2, "los_under_2"),
                (t.sdxpoa_ABWALLCD, "poa"),
            ],
            t.pr_RECLOIP & t.any_ABWALLCD,
        )
    if psi == "PSI15":  # abdominopelvic accidental puncture or laceration rate
        first_abd = ibis.least(t.first_ABDOMIPOPEN, t.first_ABDOMIPOTHER)
        last_abd = ibis.greatest(t.last_ABDOMIPOPEN, t.last_ABDOMIPOTHER)
        reop = ((last_abd > first_abd) & (last_abd <= first_abd + 30)).fill_null(False)
        return (
            _medsurg(t) & (t.pr_ABDOMIPOPEN | t.pr_ABDOMIPOTHER),
            [
                *c,
                (t.pdx_APLD, "principal_accidental_puncture"),
                (t.sdxpoa_APLD, "poa"),
            ],
            t.sdx_APLD & reop,
        )
    raise KeyError(psi)


def psi_long(spec: MeasureSpec, ctx: Context) -> ir.Table:
    """The long rows of one PSI: every stay meeting the denominator inclusion, with the first
    exclusion that applies and the numerator flag (one row per stay)."""
    t = stay_flags(ctx)
    include, exclusions, num = rules(spec.measure_id, t)
    t = t.mutate(_num=num, _why=reason(*exclusions))
    t = t.filter(include)
    return skeleton(
        spec.measure_id,
        t,
        spec.attribution,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=t._why,
        outcome=t._num.cast("float64"),
        evidence_date=t.discharge_date,
    )


TITLES = {
    "PSI03": ("Pressure ulcer rate", "Stage 3 or 4, unstageable or deep tissue pressure injury "
              "not present on admission, per medical and surgical discharge (LOS 3+ days)."),
    "PSI06": ("Iatrogenic pneumothorax rate", "Postprocedural pneumothorax not present on "
              "admission, per medical and surgical discharge."),
    "PSI08": ("In-hospital fall-associated fracture rate", "Fracture not present on admission "
              "(hip fracture weighted in PSI 90), per medical and surgical discharge."),
    "PSI09": ("Postoperative hemorrhage or hematoma rate", "Postoperative hemorrhage or "
              "hematoma treated by a procedure, per surgical discharge with an OR procedure."),
    "PSI10": ("Postoperative acute kidney injury requiring dialysis rate", "Postoperative acute "
              "kidney injury with dialysis, per elective surgical discharge."),
    "PSI11": ("Postoperative respiratory failure rate", "Acute respiratory failure, "
              "reintubation or prolonged ventilation after the first OR procedure, per elective "
              "surgical discharge."),
    "PSI12": ("Perioperative pulmonary embolism or deep vein thrombosis rate", "Proximal DVT "
              "or PE not present on admission, per surgical discharge with an OR procedure."),
    "PSI13": ("Postoperative sepsis rate", "Sepsis not present on admission, per elective "
              "surgical discharge with an OR procedure."),
    "PSI14": ("Postoperative wound dehiscence rate", "Abdominal wall reclosure for wound "
              "disruption, per abdominopelvic surgery discharge."),
    "PSI15": ("Abdominopelvic accidental puncture or laceration rate", "Accidental puncture or "
              "laceration with a second abdominopelvic procedure 1-30 days after the first, per "
              "discharge with an abdominopelvic procedure."),
}  # fmt: skip


def psi_spec(psi: str) -> MeasureSpec:
    title, description = TITLES[psi]
    number = psi[3:]
    return MeasureSpec(
        measure_id=psi,
        version=f"AHRQ {VERSION}",
        title=f"PSI {number} {title}",
        description=description,
        unit_of_analysis="inpatient stay (adult, medical/surgical MS-DRG or the PSI's "
        "procedure denominator)",
        method="Observed/expected from a logistic model fitted on the reference window (cmo's "
        "own covariates; AHRQ's GEE parameters need AHRQ's modified DRGs, see docs); AHRQ "
        f"{VERSION} numerator, denominator and exclusion rules; code lists "
        "ahrq_psi_v2024_codes.csv",
        citation=f"AHRQ Quality Indicators, Patient Safety Indicator {number} technical "
        f"specification and SAS QI software {VERSION} (July 2024)",
        direction="lower",
        kind="proportion",
        risk_adjusted=True,
        unit="%",
        group="harm",
    )
