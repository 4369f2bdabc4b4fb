"""The shipped AHRQ PSI v2024 code lists and the script that makes them.

Given AHRQ's own format files of the same software (AHRQ/AHRQ-Quality-Indicators at commit
8133487: ``PQI/Programs/PQI_AREA_FORMATS.SAS``, SAS QI v2024, and ``MHI/Programs/
MHI_FORMATS.sas``, MHI v2024), when the extractor reads them, then the four PSI lists they
define under the PSI's format names are AHRQ's, code for code: documented codes are in, codes
AHRQ leaves out are out (docs/measures/PSI.md, "Where the code lists come from").
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from cmo.measures.library.psi_rules import code_rows

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path("/work/.mirror/AHRQ+AHRQ-Quality-Indicators/repo")
AHRQ_COMMIT = "8133487f9712fddbc7a3c24cf013db90e57c2fda"


def members(name: str) -> set[str]:
    return {v for n, _s, v in code_rows() if n == name}


def matches(name: str, code: str) -> bool:
    """An ICD-10-PCS code against the list's SQL LIKE patterns, as the engine matches."""
    pats = [v for n, s, v in code_rows() if n == name and s == "icd10pcs"]
    return any(re.fullmatch(p.replace("_", ".").replace("%", ".*"), code) for p in pats)


def extractor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract", ROOT / "scripts/extract_ahrq_psi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_codes_file_names_its_sources_and_commit():
    path = ROOT / "src/cmo/measures/data/ahrq_psi_v2024_codes.csv"
    header = [ln for ln in path.read_text().splitlines() if ln.startswith("#")]
    text = "\n".join(header)
    assert f"PQI/Programs/PQI_AREA_FORMATS.SAS at {AHRQ_COMMIT}" in text
    assert f"MHI/Programs/MHI_FORMATS.sas at {AHRQ_COMMIT}" in text
    assert "DIALY2P, MDC14PRINDX, MDC15PRINDX" in text


def test_mdc14_principal_diagnoses_are_ahrqs():
    mdc14 = members("MDC14PRINDX")
    assert {"A34", "O0000", "O80", "O9989"} <= mdc14  # obstetrical tetanus; ectopic; delivery
    # supervision of high-risk pregnancy (O09) is not a principal diagnosis of MDC 14 for AHRQ
    assert not {"O0900", "O09891"} & mdc14
    assert len(mdc14) == 2395


def test_mdc15_principal_diagnoses_are_ahrqs():
    mdc15 = members("MDC15PRINDX")
    assert {"A33", "E8411", "P0700", "Z3800"} <= mdc15  # tetanus neonatorum; meconium ileus
    assert "P092" not in mdc15  # abnormal neonatal screening findings: not in AHRQ's list
    assert len(mdc15) == 481


def test_dialysis_lists_are_ahrqs():
    assert matches("DIALYIP", "3E1M39Z")  # peritoneal dialysis: the rebuilt list missed it
    assert matches("DIALYIP", "5A1D90Z")  # continuous renal replacement
    assert not matches("DIALYIP", "5A1955Z")  # mechanical ventilation
    assert matches("DIALY2P", "031C3ZF")  # percutaneous AV fistula, radial artery
    assert matches("DIALY2P", "031509D")  # axillary artery to upper arm vein bypass
    assert not matches("DIALY2P", "0SR9019")  # hip replacement
    assert len({v for n, _s, v in code_rows() if n == "DIALY2P"}) == 120


def test_the_format_reader_reads_both_of_ahrqs_layouts():
    sas = """
    /* FORMAT FOR a list; a comment with 'quotes' = '1'; and a semicolon */
    Value $ONEPER
    "A34" = '1' /*Obstetrical tetanus */
    "O0000" = '1'
    OTHER = '0'
    ;
        Value $RUN
        '3E1M39Z' /*Irrigation */
        ,'5A1D00Z' /*expires */
        ,'5A1D90Z' = '1'
        OTHER = '0';
    Value $UNWANTED "X1" = '1' ;
    """
    rows = extractor().parse_formats(
        sas, {"ONEPER", "RUN"}, {"ONEPER": "icd10cm", "RUN": "icd10pcs"}
    )
    assert [(r["list"], r["system"], r["value"]) for r in rows] == [
        ("ONEPER", "icd10cm", "A34"),
        ("ONEPER", "icd10cm", "O0000"),
        ("RUN", "icd10pcs", "3E1M39Z"),
        ("RUN", "icd10pcs", "5A1D00Z"),
        ("RUN", "icd10pcs", "5A1D90Z"),
    ]


def test_the_format_reader_refuses_a_range_it_cannot_expand():
    with pytest.raises(SystemExit, match="RANGE"):
        extractor().parse_formats("VALUE $RANGE 'A00'-'A09' = '1';", {"RANGE"}, {})


@pytest.mark.skipif(not MIRROR.exists(), reason="no AHRQ/AHRQ-Quality-Indicators mirror here")
def test_the_extractor_reproduces_the_shipped_lists():
    ex = extractor()
    have = subprocess.run(
        ["git", f"--git-dir={MIRROR}", "cat-file", "-e", f"{AHRQ_COMMIT}^{{commit}}"], check=False
    )
    if have.returncode:
        pytest.skip(f"the mirror does not hold commit {AHRQ_COMMIT}")
    rows, origin = ex.code_lists(MIRROR, AHRQ_COMMIT)
    assert [(r["list"], r["system"], r["value"]) for r in rows] == list(code_rows())
    assert len(origin) == 3
