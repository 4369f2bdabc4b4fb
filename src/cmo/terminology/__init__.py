"""Code maps and value sets as data files, joined in the engine (never called per patient).

Every file in ``data/`` keeps codes in the notation of its source (dotted ICD-10 codes and ranges
such as ``I42.5-I42.9``), so a reviewer can check it against the paper line by line. The loaders
here expand ranges into undotted code *prefixes*: a diagnosis matches a category when its
undotted code starts with one of the category's prefixes (the convention of Quan 2005 and of the
R package ``comorbidity``).

Sources:
- Charlson and Elixhauser ICD-10 maps: Quan H, et al. Coding algorithms for defining comorbidities
  in ICD-9-CM and ICD-10 administrative data. Med Care 2005;43:1130-9 (Table 1 and 2).
- Charlson weights: Charlson ME, et al. J Chronic Dis 1987;40:373-83 (original) and Quan H, et al.
  Am J Epidemiol 2011;173:676-82 (updated weights, AIDS/HIV = 4, maximum 24).
- LACE Charlson weights: van Walraven C, et al. CMAJ 2010;182:551-7 (Table 2).
- Elixhauser weights: van Walraven C, et al. Med Care 2009;47:626-33.
- Planned readmissions and HWR exclusions: see ``value_sets.csv`` (CMS PRA v4.0, HWR measure).
- MS-DRG relative weights, geometric and arithmetic mean LOS: CMS IPPS FY2026 Final Rule
  Table 5 (``msdrg_table5_fy2026.txt``; AMLOS added by ``scripts/extract_table5_amlos.py``).
- Discharge dispositions: HL7 code system ``discharge-disposition`` and the NUBC UB-04 patient
  discharge status (FL17), each code's category read from its definition
  (``discharge_disposition.csv``).
- CMS Planned Readmission Algorithm v4.0 tables PR1-PR4 and the CMS Hospital-Wide Readmission
  exclusions, expanded to ICD-10 codes with the AHRQ CCS v2019.1 maps
  (``pra_v4_icd10.csv.gz``, built by ``scripts/extract_readmission_tables.py``).
"""

from __future__ import annotations

import csv
import gzip
from functools import cache
from importlib import resources
from typing import Literal

Index = Literal["charlson", "elixhauser"]

# Hierarchy rules (Quan 2005 / Charlson 1987; the R package comorbidity's "assign0"): when the
# more severe form is present the milder one does not count.
HIERARCHY: dict[Index, tuple[tuple[str, str], ...]] = {
    "charlson": (("msld", "mld"), ("diabwc", "diab"), ("metacanc", "canc")),
    "elixhauser": (("diabc", "diabunc"), ("metacanc", "solidtum"), ("hypc", "hypunc")),
}


def _rows(filename: str) -> list[dict[str, str]]:
    """The rows of a CSV data file; lines starting with ``#`` (source notes) are skipped."""
    path = resources.files(__package__).joinpath("data", filename)
    if filename.endswith(".gz"):
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def normalise_code(code: str) -> str:
    """``"I50.9 "`` -> ``"I509"``: codes are compared undotted and upper case."""
    return code.replace(".", "").strip().upper()


def expand(token: str) -> list[str]:
    """Expand one source token into undotted prefixes: ``"I42.5-I42.9"`` -> I425 ... I429."""
    token = normalise_code(token)
    if "-" not in token:
        return [token]
    first, last = token.split("-")
    if len(first) != len(last):
        raise ValueError(f"range ends differ in length: {token!r}")
    i = 0
    while first[i] == last[i]:
        i += 1
    head, lo, hi = first[:i], first[i:], last[i:]
    return [head + str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1)]


@cache
def comorbidity_map(index: Index) -> tuple[tuple[str, str], ...]:
    """(category, undotted prefix) pairs of the Quan 2005 ICD-10 map for ``index``."""
    filename = {
        "charlson": "charlson_quan2005_icd10.csv",
        "elixhauser": "elixhauser_quan2005_icd10.csv",
    }[index]
    return tuple(
        (row["category"], prefix)
        for row in _rows(filename)
        for token in row["codes"].split()
        for prefix in expand(token)
    )


@cache
def categories(index: Index) -> tuple[str, ...]:
    """The categories of ``index`` in the source's order."""
    filename = {
        "charlson": "charlson_quan2005_icd10.csv",
        "elixhauser": "elixhauser_quan2005_icd10.csv",
    }[index]
    return tuple(row["category"] for row in _rows(filename))


@cache
def weights(scheme: str) -> dict[str, float]:
    """Category weights: ``charlson1987``, ``quan2011``, ``lace`` or ``van_walraven2009``."""
    filename = "elixhauser_weights.csv" if scheme == "van_walraven2009" else "charlson_weights.csv"
    rows = _rows(filename)
    if scheme not in rows[0]:
        raise ValueError(f"unknown weight scheme {scheme!r}")
    return {row["category"]: float(row[scheme]) for row in rows}


def score(codes: list[str], index: Index, scheme: str) -> float:
    """The weighted comorbidity score of one set of ICD-10 codes (reference implementation).

    The build computes the same thing in the engine; this is for tests and single patients.
    """
    present = flags(codes, index)
    w = weights(scheme)
    return sum(w[c] for c, on in present.items() if on)


def flags(codes: list[str], index: Index) -> dict[str, bool]:
    """Which categories of ``index`` the codes hit, after the hierarchy rules."""
    norm = [normalise_code(c) for c in codes]
    hit = {c: False for c in categories(index)}
    for category, prefix in comorbidity_map(index):
        if any(code.startswith(prefix) for code in norm):
            hit[category] = True
    for severe, mild in HIERARCHY[index]:
        if hit[severe]:
            hit[mild] = False
    return hit


@cache
def value_set(name: str) -> tuple[str, ...]:
    """Undotted code prefixes of a named value set in ``value_sets.csv``."""
    for row in _rows("value_sets.csv"):
        if row["value_set"] == name:
            return tuple(p for token in row["codes"].split() for p in expand(token))
    raise KeyError(f"unknown value set {name!r}")


@cache
def value_set_names() -> tuple[str, ...]:
    return tuple(row["value_set"] for row in _rows("value_sets.csv"))


@cache
def value_set_source(name: str) -> str:
    for row in _rows("value_sets.csv"):
        if row["value_set"] == name:
            return row["source"]
    raise KeyError(f"unknown value set {name!r}")


def lace_points(
    los_days: int, acute: bool, charlson: float, ed_visits: int
) -> tuple[int, int, int, int, int]:
    """LACE index (van Walraven C, et al. CMAJ 2010;182:551-7): (L, A, C, E, total).

    L: LOS <1 d 0, 1 d 1, 2 d 2, 3 d 3, 4-6 d 4, 7-13 d 5, >=14 d 7. A: emergent admission 3.
    C: Charlson (LACE weights) 0-3 as is, >=4 -> 5. E: ED visits in the prior 6 months, max 4.
    """
    if los_days < 1:
        lp = 0
    elif los_days <= 3:
        lp = int(los_days)
    elif los_days <= 6:
        lp = 4
    elif los_days <= 13:
        lp = 5
    else:
        lp = 7
    ap = 3 if acute else 0
    cp = int(charlson) if charlson < 4 else 5
    ep = min(int(ed_visits), 4)
    return lp, ap, cp, ep, lp + ap + cp + ep


# -- discharge dispositions -------------------------------------------------------------------
HL7_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
# Categories a stay can end in: see discharge_disposition.csv for the code-by-code reading.
ACUTE_TRANSFER = "acute_transfer"
HOSPICE = "hospice"
EXPIRED = "expired"
AMA = "ama"


@cache
def dispositions() -> tuple[tuple[str, str, str, str, bool | None, str], ...]:
    """(system ``hl7``/``nubc``, code, display, category, live, NUBC status for the grouper)
    for every HL7 discharge-disposition and NUBC patient discharge status code."""
    live = {"true": True, "false": False, "": None}
    return tuple(
        (r["system"], r["code"], r["display"], r["category"], live[r["live"]], r["nubc"])
        for r in _rows("discharge_disposition.csv")
    )


def disposition_category(system: str, code: str) -> str:
    """The category of one disposition code (``unknown`` for a code neither system has)."""
    for sys_, c, _d, category, _l, _n in dispositions():
        if sys_ == system and c == code:
            return category
    return "unknown"


# -- CMS Planned Readmission Algorithm v4.0 ----------------------------------------------------
PRA_TABLES = (
    "PR1_always_planned_pcs",
    "PR2_always_planned_dx",
    "PR3_potentially_planned_pcs",
    "PR4_acute_dx",
    "HWR_excl_cancer",
    "HWR_excl_psych",
    "HWR_excl_rehab",
)


@cache
def pra_codes(table: str) -> frozenset[str]:
    """The undotted ICD-10 codes of one table of ``pra_v4_icd10.csv.gz`` (see PRA_TABLES)."""
    if table not in PRA_TABLES:
        raise KeyError(f"unknown Planned Readmission Algorithm table {table!r}")
    return frozenset(r["code"] for r in _pra_rows() if r["table"] == table)


@cache
def _pra_rows() -> tuple[dict[str, str], ...]:
    return tuple(_rows("pra_v4_icd10.csv.gz"))
