"""MS-DRG per stay with the CMS grouper port ``msdrg`` and the CMS Table 5 weights and GMLOS.

``msdrg`` (Bedrock-Billing/mz-drg, MIT) is a line-by-line port of the CMS Java MS-DRG grouper
(v40-v44, FY2023-FY2027), validated claim by claim against it; it runs offline from a shared
library and a data file inside the wheel. It is called in Python, so only stays whose grouper
input changed since the last build are grouped again (the input signature is kept in
``core__drg``); identical inputs are grouped once. ``drgpy`` was evaluated too: it installs
and runs offline, twice as fast, but it is not validated against the CMS grouper and ignores
POA, age and discharge status, so it is not used.

Relative weight, GMLOS and AMLOS come from CMS IPPS FY2026 Final Rule Table 5 for every discharge:
the earlier fiscal years' tables are not shipped (documented approximation; see
docs/measures/core-tables.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo import terminology

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

# HL7 discharge disposition -> NUBC patient discharge status (UB-04 FL17) for the grouper, from
# cmo.terminology (HL7 ``hosp`` is hospice, NUBC 50; ``other-hcf`` an acute transfer, NUBC 02).
NUBC_STATUS = {
    code: int(nubc)
    for system, code, _d, _c, _l, nubc in terminology.dispositions()
    if system == "hl7" and nubc
}
TABLE5_YEAR = 2026
LOOKUP = "core__drg_lookup"
LOOKUP_SCHEMA = {
    "signature": "string",
    "drg": "string",
    "mdc": "string",
    "drg_type": "string",
    "title": "string",
    "grouper_version": "int64",
    "return_code": "string",
    "weight": "float64",
    "gmlos": "float64",
    "amlos": "float64",
    "table5_year": "int64",
}


@cache
def table5() -> dict[str, tuple[str, str, float, float, float]]:
    """drg -> (mdc, type S/M, relative weight, GMLOS, AMLOS) from the FY2026 Table 5 data file."""
    text = (
        resources.files("cmo.terminology")
        .joinpath("data", "msdrg_table5_fy2026.txt")
        .read_text(encoding="utf-8")
    )
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        drg, mdc, kind, weight, gmlos, amlos = line.split()
        out[drg] = (mdc, kind, float(weight), float(gmlos), float(amlos))
    return out


def grouper_version(discharge: date) -> int:
    """The msdrg version in force at discharge (October and April releases), clamped to v40-v44."""
    fy = discharge.year + (1 if discharge.month >= 10 else 0)
    half = 1 if 4 <= discharge.month <= 9 else 0
    fy = min(max(fy, 2023), 2027)
    version = (fy - 2023 + 40) * 10 + half
    return min(version, 440)


def available() -> bool:
    try:
        import msdrg  # noqa: F401
    except ImportError:
        return False
    return True


def _sex(value: Any) -> int:
    return {"male": 0, "female": 1}.get(str(value), 2)


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def discharge_status(disposition: str) -> int:
    """NUBC status for the grouper: ``nubc:NN`` as coded, else the HL7 code's NUBC equivalent
    (routine discharge, 01, when the code is unknown)."""
    if disposition.startswith("nubc:"):
        return _int(disposition[5:], 1)
    return NUBC_STATUS.get(disposition, 1)


def claim_from_signature(sig: str) -> dict[str, Any]:
    """The grouper input encoded by :func:`input_table`'s signature string."""
    version, age, sex, disposition, pdx, sdx, procs = sig.split("|")
    return {
        "version": _int(version, 440),
        "age": _int(age),
        "sex": _sex(sex),
        "discharge_status": discharge_status(disposition),
        "pdx": {"code": pdx, "poa": "Y"},
        "sdx": [
            {"code": item.split(":")[0], "poa": (item.split(":")[1] or "Y").upper()}
            for item in sdx.split(",")
            if item
        ],
        "procedures": [{"code": c} for c in procs.split(",") if c],
    }


def input_table(stays: ir.Table, diagnoses: ir.Table, procedures: ir.Table) -> ir.Table:
    """(stay_id, signature): everything the grouper reads, as one string, built in the engine.

    signature = ``version|age|sex|disposition|principal|code:poa,...|procedure,...`` with the
    lists sorted, so equal inputs have equal signatures and each is grouped once, ever.
    """
    sdx = diagnoses.filter(~diagnoses.is_principal)
    sdx = sdx.mutate(item=sdx.code + ":" + sdx.poa.fill_null("").lower())
    sdx_agg = sdx.group_by("stay_id").aggregate(sdx=sdx.item.collect())
    proc_agg = procedures.group_by("stay_id").aggregate(procs=procedures.code.collect())
    d = stays.discharge_date
    fy = d.year() + (d.month() >= 10).cast("int64")
    fy = ibis.greatest(ibis.least(fy, 2027), 2023)
    half = ((d.month() >= 4) & (d.month() <= 9)).cast("int64")
    version = ibis.least((fy - 2023 + 40) * 10 + half, 440)
    # The NUBC status when the Encounter has one (the grouper's own code set), else HL7's.
    disposition = ibis.coalesce("nubc:" + stays.discharge_nubc, stays.discharge_disposition)
    t = stays.select(
        "stay_id", "age", "sex", "principal_dx", discharge_disposition=disposition, version=version
    )
    t = t.left_join(sdx_agg, "stay_id").drop("stay_id_right")
    t = t.left_join(proc_agg, "stay_id").drop("stay_id_right")
    parts = [
        t.version.cast("string"),
        t.age.cast("string").fill_null(""),
        t.sex.fill_null(""),
        t.discharge_disposition.fill_null(""),
        t.principal_dx.fill_null(""),
        t.sdx.sort().join(",").fill_null(""),
        t.procs.sort().join(",").fill_null(""),
    ]
    signature = parts[0]
    for part in parts[1:]:
        signature = signature + "|" + part
    return t.select("stay_id", signature=signature, has_pdx=t.principal_dx.notnull())


def group_signatures(signatures: list[str], workers: int = 2) -> pd.DataFrame:
    """Group each signature (threads: the grouper's C calls release the GIL)."""
    import msdrg

    claims = [claim_from_signature(sig) for sig in signatures]
    chunks = [claims[i::workers] for i in range(workers)]

    def run(chunk: list[Any]) -> list[Any]:
        with msdrg.MsdrgGrouper() as grouper:
            return [grouper.group(c) for c in chunk]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(run, chunks))
    results: list[Any] = [None] * len(claims)
    for i, part in enumerate(parts):
        for j, res in enumerate(part):
            results[i + j * workers] = res
    t5 = table5()
    rows = []
    for sig, claim, res in zip(signatures, claims, results, strict=True):
        drg = str(res["final_drg"]).zfill(3) if res and res.get("final_drg") else None
        mdc, kind, weight, gmlos, amlos = t5.get(drg or "", (None, None, None, None, None))
        rows.append(
            {
                "signature": sig,
                "drg": drg,
                "mdc": mdc,
                "drg_type": kind,
                "title": res.get("final_drg_description") if res else None,
                "grouper_version": int(claim["version"]),
                "return_code": res.get("return_code") if res else None,
                "weight": weight,
                "gmlos": gmlos,
                "amlos": amlos,
                "table5_year": TABLE5_YEAR,
            }
        )
    return pd.DataFrame(rows, columns=list(LOOKUP_SCHEMA))


def build_drg(
    wh: Warehouse, stays: ir.Table, diagnoses: ir.Table, procedures: ir.Table
) -> ir.Table:
    """Group the signatures not yet in core__drg_lookup, then join every stay to its DRG."""
    # Read twice (new signatures, then every stay's DRG): built once (1.2 s at 1M stays).
    inputs = wh.scratch("core__drg_input", input_table(stays, diagnoses, procedures))
    wanted = inputs.filter(inputs.has_pdx).select("signature").distinct()
    if wh.exists(LOOKUP) and set(LOOKUP_SCHEMA) <= set(wh.table(LOOKUP).columns):
        known = wh.table(LOOKUP).select("signature")
        wanted = wanted.anti_join(known, "signature")
    else:
        wh.write(
            LOOKUP,
            ibis.memtable(
                pd.DataFrame(columns=list(LOOKUP_SCHEMA)), schema=ibis.schema(LOOKUP_SCHEMA)
            ),
        )
    todo = sorted(wanted.to_pandas()["signature"].tolist())
    if todo and available():
        fresh = group_signatures(todo)
        wh.write(LOOKUP, ibis.memtable(fresh, schema=ibis.schema(LOOKUP_SCHEMA)), mode="append")
    lookup = wh.table(LOOKUP)
    out = inputs.select("stay_id", "signature").left_join(lookup, "signature")
    return out.select("stay_id", *LOOKUP_SCHEMA)
