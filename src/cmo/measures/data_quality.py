"""``quality__data_issue``: the data problems that change what a measure says, listed per stay
(or per site) so an analyst can fix them at the source before a number reaches a committee.

Issues (column ``issue``):
- ``vital_status_conflict``: the stay's disposition and the patient's death date contradict
  each other (``core__inpatient_stay.vital_status_conflict``; the measures exclude such stays
  with reason ``vital_status_inconsistent``);
- ``no_attending``: a stay without an attending (ATND participant): practitioner-level results
  cannot attribute it;
- ``invalid_diagnosis_code``: a diagnosis code that is not a billable ICD-10-CM code
  (``simple-icd-10-cm``: not in the code set, or a category header that is not a leaf);
- ``invalid_procedure_code``: a procedure code that is not shaped like ICD-10-PCS (seven
  characters from 0-9 and A-Z without I and O, CMS ICD-10-PCS Official Guidelines A.1-A.2);
- ``missing_poa_share``: per site, the share of secondary diagnoses without a present-on-
  admission indicator (``value``; ``n`` = secondary diagnoses; from the stays'
  ``secondary_dx`` and ``secondary_dx_no_poa``): without POA the comorbidity
  step falls back on the 12-month lookback (``cmo.measures.core.comorbidity``).

Built from the core tables by :func:`issues`; the build writes it after the core step.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import ibis
import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

SCHEMA = {
    "issue": "string",
    "site_id": "string",
    "stay_id": "string",
    "patient_id": "string",
    "code": "string",
    "detail": "string",
    "value": "float64",
    "n": "int64",
}
PCS_SHAPE = re.compile(r"^[0-9A-HJ-NP-Z]{7}$")


def invalid_icd10cm(codes: list[str]) -> list[str]:
    """The codes (undotted) that are not billable ICD-10-CM codes."""
    import simple_icd_10_cm as cm

    return [c for c in codes if not (cm.is_valid_item(c) and cm.is_leaf(c))]


def invalid_icd10pcs(codes: list[str]) -> list[str]:
    """The codes that are not shaped like an ICD-10-PCS code."""
    return [c for c in codes if not PCS_SHAPE.match(c)]


def _rows(t: ir.Table, issue: str, **cols: object) -> ir.Table:
    """``t`` as rows of the table: ``cols`` gives expressions or constants, the rest is null."""
    out = {}
    for name, typ in SCHEMA.items():
        value = issue if name == "issue" else cols.get(name)
        if value is None:
            out[name] = ibis.null(typ)
        elif isinstance(value, ibis.Expr):
            out[name] = value.cast(typ)
        else:
            out[name] = ibis.literal(value, typ)
    return t.select(**out)


def _bad_codes(column: ir.Column, check: object) -> ir.Table:
    distinct = column.name("code").as_table().distinct().to_pandas()["code"].dropna().tolist()
    bad = check(sorted(distinct))  # type: ignore[operator]
    return ibis.memtable(pd.DataFrame({"bad": bad}, dtype="object"), schema={"bad": "string"})


def issues(wh: Warehouse) -> ir.Table:
    """Every data issue of the core tables (see the module docstring)."""
    stays = wh.table("core__inpatient_stay")
    dx = wh.table("core__stay_diagnosis")
    procs = wh.table("core__stay_procedure")
    who = stays.select("stay_id", "patient_id", "site_id")
    vital = stays.filter(stays.vital_status_conflict)
    vital = _rows(
        vital,
        "vital_status_conflict",
        site_id=vital.site_id,
        stay_id=vital.stay_id,
        patient_id=vital.patient_id,
        detail=ibis.literal("disposition ")
        + vital.disposition_category
        + ", death date "
        + vital.death_date.cast("string")
        + ", stay "
        + vital.admit_date.cast("string")
        + " to "
        + vital.discharge_date.cast("string"),
        n=1,
    )
    unattributed = stays.filter(stays.attending_id.isnull())
    unattributed = _rows(
        unattributed,
        "no_attending",
        site_id=unattributed.site_id,
        stay_id=unattributed.stay_id,
        patient_id=unattributed.patient_id,
        n=1,
    )
    parts = [vital, unattributed]
    for issue, table, check in (
        ("invalid_diagnosis_code", dx, invalid_icd10cm),
        ("invalid_procedure_code", procs, invalid_icd10pcs),
    ):
        bad = _bad_codes(table.code, check)
        hits = table.join(bad, table.code == bad.bad).join(who, "stay_id")
        parts.append(
            _rows(
                hits,
                issue,
                site_id=hits.site_id,
                stay_id=hits.stay_id,
                patient_id=hits.patient_id,
                code=hits.code,
                n=1,
            )
        )
    # Counted per stay by the stays step (secondary_dx_no_poa): joining the 2.9M secondary
    # diagnoses to their stays' sites cost ~0.8 s at 1M stays, summing 1M stay rows little.
    poa = stays.group_by("site_id").aggregate(
        n=stays.secondary_dx.length().fill_null(0).sum(),
        missing=stays.secondary_dx_no_poa.sum(),
    )
    poa = poa.filter(poa.n > 0)
    parts.append(
        _rows(
            poa,
            "missing_poa_share",
            site_id=poa.site_id,
            value=poa.missing.cast("float64") / poa.n,
            n=poa.n,
            detail=poa.missing.cast("string") + " of " + poa.n.cast("string") + " secondary "
            "diagnoses without a POA indicator",
        )
    )
    return ibis.union(*parts, distinct=False)
