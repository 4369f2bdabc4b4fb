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
- MS-DRG relative weights and geometric mean LOS: CMS IPPS FY2026 Final Rule Table 5
  (``msdrg_table5_fy2026.txt``).
"""

from __future__ import annotations

import csv
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
    text = resources.files(__package__).joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


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
