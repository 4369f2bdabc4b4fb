"""MS-DRG per stay with the CMS grouper port ``msdrg`` and the CMS Table 5 weights and GMLOS.

``msdrg`` (Bedrock-Billing/mz-drg, MIT) is a line-by-line port of the CMS Java MS-DRG grouper
(v40-v44, FY2023-FY2027), validated claim by claim against it; it runs offline from a shared
library and a data file inside the wheel. It is called in Python, so only stays whose grouper
input changed since the last build are grouped again (the input signature is kept in
``core__drg``); identical inputs are grouped once. ``drgpy`` was evaluated too: it installs
and runs offline, twice as fast, but it is not validated against the CMS grouper and ignores
POA, age and discharge status, so it is not used.

Relative weight and GMLOS come from CMS IPPS FY2026 Final Rule Table 5 for every discharge:
the earlier fiscal years' tables are not shipped (documented approximation; see
docs/measures/core-tables.md).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

# FHIR discharge disposition -> NUBC patient discharge status (UB-04 FL17) for the grouper.
NUBC_STATUS = {
    "home": 1,
    "alt-home": 6,
    "other-hcf": 5,
    "hosp": 2,
    "long": 63,
    "aadvice": 7,
    "exp": 20,
    "psy": 65,
    "rehab": 62,
    "snf": 3,
    "oth": 70,
}
TABLE5_YEAR = 2026
DRG_SCHEMA = {
    "stay_id": "string",
    "signature": "string",
    "drg": "string",
    "mdc": "string",
    "drg_type": "string",
    "title": "string",
    "grouper_version": "int64",
    "return_code": "string",
    "weight": "float64",
    "gmlos": "float64",
    "table5_year": "int64",
}


@cache
def table5() -> dict[str, tuple[str, str, float, float]]:
    """drg -> (mdc, type S/M, relative weight, GMLOS) from the FY2026 Table 5 data file."""
    text = (
        resources.files("cmo.terminology")
        .joinpath("data", "msdrg_table5_fy2026.txt")
        .read_text(encoding="utf-8")
    )
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        drg, mdc, kind, weight, gmlos = line.split()
        out[drg] = (mdc, kind, float(weight), float(gmlos))
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


def _claims(frame: pd.DataFrame) -> list[dict[str, Any]]:
    claims = []
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for row in records:
        sdx = [{"code": c, "poa": (p or "Y").upper()} for c, p in row["sdx"]]
        age = row["age"]
        claims.append(
            {
                "version": int(row["version"]),
                "age": int(age) if pd.notna(age) else 0,
                "sex": _sex(row["sex"]),
                "discharge_status": NUBC_STATUS.get(str(row["discharge_disposition"]), 1),
                "pdx": {"code": row["principal_dx"], "poa": "Y"},
                "sdx": sdx,
                "procedures": [{"code": c} for c in row["procs"]],
            }
        )
    return claims


def signature(row: dict[str, Any]) -> str:
    """A digest of everything the grouper reads: equal signatures group to the same DRG."""
    parts = [
        str(row["version"]),
        str(row["age"]),
        str(row["sex"]),
        str(row["discharge_disposition"]),
        str(row["principal_dx"]),
        ",".join(f"{c}:{p}" for c, p in row["sdx"]),
        ",".join(row["procs"]),
    ]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def grouper_inputs(stays: ir.Table, diagnoses: ir.Table) -> pd.DataFrame:
    """One row per stay with everything the grouper reads (pulled once into pandas)."""
    sdx = diagnoses.filter(~diagnoses.is_principal)
    sdx_frame = sdx.select("stay_id", "code", "poa").to_pandas()
    frame = stays.select(
        "stay_id",
        "age",
        "sex",
        "discharge_disposition",
        "principal_dx",
        "discharge_date",
        "procedures",
    ).to_pandas()
    frame = frame.sort_values("stay_id").reset_index(drop=True)
    sdx_frame = sdx_frame.sort_values(["stay_id", "code"])
    sdx_frame["pair"] = list(zip(sdx_frame["code"], sdx_frame["poa"], strict=True))
    grouped = sdx_frame.groupby("stay_id")["pair"].agg(list)
    frame["sdx"] = frame["stay_id"].map(grouped)
    frame["sdx"] = frame["sdx"].apply(lambda v: v if isinstance(v, list) else [])
    frame["procs"] = frame["procedures"].apply(
        lambda v: sorted(v) if v is not None and len(v) else []
    )
    frame["version"] = [grouper_version(pd.Timestamp(d).date()) for d in frame["discharge_date"]]
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    frame["signature"] = [signature(r) for r in records]
    return frame


def group_frame(frame: pd.DataFrame, workers: int = 2) -> pd.DataFrame:
    """Group each distinct signature once (threads: the grouper releases the GIL in ctypes)."""
    import msdrg

    todo = frame.drop_duplicates("signature")
    todo = todo[todo["principal_dx"].notna()]
    claims = _claims(todo)
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
    for sig, version, res in zip(todo["signature"], todo["version"], results, strict=True):
        drg = str(res["final_drg"]).zfill(3) if res and res.get("final_drg") else None
        mdc, kind, weight, gmlos = t5.get(drg or "", (None, None, None, None))
        rows.append(
            {
                "signature": sig,
                "drg": drg,
                "mdc": mdc,
                "drg_type": kind,
                "title": res.get("final_drg_description") if res else None,
                "grouper_version": int(version),
                "return_code": res.get("return_code") if res else "NO_PRINCIPAL_DX",
                "weight": weight,
                "gmlos": gmlos,
                "table5_year": TABLE5_YEAR,
            }
        )
    return pd.DataFrame(rows, columns=[c for c in DRG_SCHEMA if c != "stay_id"])


def build_drg(wh: Warehouse, stays: ir.Table, diagnoses: ir.Table) -> pd.DataFrame:
    """core__drg rows: reuse earlier groupings whose input signature is unchanged."""
    frame = grouper_inputs(stays, diagnoses)
    known = pd.DataFrame(columns=list(DRG_SCHEMA))
    if wh.exists("core__drg"):
        old = wh.table("core__drg")
        if set(DRG_SCHEMA) <= set(old.columns):
            known = old.select(*DRG_SCHEMA).to_pandas().drop_duplicates("signature")
    known = known.drop(columns=["stay_id"])
    missing = frame[~frame["signature"].isin(set(known["signature"]))]
    if available() and len(missing):
        fresh = group_frame(missing)
    else:
        fresh = pd.DataFrame(columns=list(known.columns))
    parts = [p for p in (known, fresh) if len(p)]
    lookup = pd.concat(parts, ignore_index=True).drop_duplicates("signature") if parts else known
    out = frame[["stay_id", "signature"]].merge(lookup, on="signature", how="left")
    out["table5_year"] = TABLE5_YEAR
    return out[list(DRG_SCHEMA)].astype(
        {
            "grouper_version": "Int64",
            "table5_year": "Int64",
            "weight": "float64",
            "gmlos": "float64",
        }
    )
