"""Extract the AHRQ PSI parameters and code lists that cmo's PSI measures read, as data files.

Source: the AHRQ Quality Indicators SAS software, public repository AHRQ/AHRQ-Quality-Indicators
(a git directory, e.g. the mirror made by ``fetch github:AHRQ/AHRQ-Quality-Indicators``), version
v2024 (PSI/Macros/*_v2024.sas). What is read, at one commit, with ``git show`` (nothing is run):

- ``PSI/Macros/PSI_HOSP_Composite_Wt_v2024.sas``: the PSI 90 component weights;
- ``PSI/Macros/PSI_HOSP_Composite_Arrays_v2024.sas``: the PSI 90 reference population rates and
  the signal (co)variance matrix of the component O/E ratios (the script checks that the
  off-diagonal covariances are zero, as they are in v2024, and keeps the diagonal);
- ``PSI/Macros/PSI_HOSP_Sigvar_Array_v2024.sas``: each PSI's signal variance on the rate scale;
- ``PSI/Programs/PSI_HOSP_MEASURES.SAS``: which SAS formats (code lists) each PSI's rules use, to
  check that every list cmo's rules need is defined;
- ``PSI/Programs/PSI_HOSP_FORMATS.SAS``: the code lists themselves (``VALUE $NAME 'code', ... =
  '1'``), when the snapshot holds the file. The public snapshot available when cmo was written
  lists it but does not carry its blob (too large), so the lists are then built from
  ``scripts/data/ahrq_psi_v2024_list_definitions.csv`` (each list's ICD-10-CM stems and ICD-10-PCS
  patterns written from the AHRQ PSI v2024 Technical Specifications appendices), ICD-10-CM stems
  expanded to every billable code by ``simple-icd-10-cm``.

Writes ``src/cmo/measures/data/ahrq_psi_v2024_parameters.csv`` and
``src/cmo/measures/data/ahrq_psi_v2024_codes.csv`` (see that folder's README.md).

Usage: python scripts/extract_ahrq_psi.py [GIT_DIR] [--commit SHA]
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "cmo" / "measures" / "data"
DEFINITIONS = ROOT / "scripts" / "data" / "ahrq_psi_v2024_list_definitions.csv"
DEFAULT_GIT = Path("/work/.mirror/AHRQ+AHRQ-Quality-Indicators/repo")
VERSION = "v2024"
COMPONENTS = ("03", "06", "08", "09", "10", "11", "12", "13", "14", "15")
# Order of the 18 entries of the Sigvar array (its header comment).
SIGVAR_ORDER = [
    "02",
    "03",
    "04",
    "04_DVT_PE",
    "04_PNEUMONIA",
    "04_SEPSIS",
    "04_SHOCK",
    "04_GIHEMORRHAGE",
    "06",
    "07",
    "08",
    "09",
    "10",
    "11",
    "12",
    "13",
    "14",
    "15",
]


def git_show(git_dir: Path, commit: str, path: str) -> str | None:
    """The file at ``commit``, or None when the snapshot does not hold its blob."""
    run = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
        capture_output=True,
        check=False,
    )
    if run.returncode != 0:
        return None
    return run.stdout.decode("latin-1")


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def array_values(sas: str, name: str) -> list[float]:
    """The initial values of ``ARRAY name{n} ... ( values );``."""
    m = re.search(rf"ARRAY\s+{name}\s*\{{\d+\}}[^(]*\(([^)]*)\)", sas, re.IGNORECASE)
    if not m:
        raise SystemExit(f"array {name} not found")
    return numbers(m.group(1))


def parameters(git_dir: Path, commit: str) -> list[dict[str, str]]:
    weights_sas = git_show(git_dir, commit, f"PSI/Macros/PSI_HOSP_Composite_Wt_{VERSION}.sas")
    arrays_sas = git_show(git_dir, commit, f"PSI/Macros/PSI_HOSP_Composite_Arrays_{VERSION}.sas")
    sigvar_sas = git_show(git_dir, commit, f"PSI/Macros/PSI_HOSP_Sigvar_Array_{VERSION}.sas")
    if not (weights_sas and arrays_sas and sigvar_sas):
        raise SystemExit(f"the {VERSION} composite macros are not in {git_dir} at {commit}")
    weights = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"%LET\s+W(\d\d)\s*=\s*([0-9.]+)\s*;", weights_sas)
    }
    if abs(sum(weights.values()) - 1.0) > 1e-6:
        raise SystemExit(f"weights sum to {sum(weights.values())}, not 1")
    ref = array_values(arrays_sas, "ARRYP3")
    cov = array_values(arrays_sas, "ARRY1")
    if len(ref) != 10 or len(cov) != 55:
        raise SystemExit("unexpected composite array sizes")
    # Upper triangle stored row by row: the diagonal entries are at 0, 10, 19, 27, ...
    diag_idx, k = [], 0
    for i in range(10):
        diag_idx.append(k)
        k += 10 - i
    off = [v for j, v in enumerate(cov) if j not in diag_idx]
    if any(v != 0.0 for v in off):
        raise SystemExit("non-zero off-diagonal covariances: extend cmo.measures.library.psi90")
    signal_rate = dict(zip(SIGVAR_ORDER, array_values(sigvar_sas, "ARRYP2"), strict=True))
    ref_sig = dict(zip(SIGVAR_ORDER, array_values(sigvar_sas, "ARRYP3"), strict=True))
    rows = []
    for i, psi in enumerate(COMPONENTS):
        if abs(ref_sig[psi] - ref[i]) > 1e-12:
            raise SystemExit(f"PSI {psi}: reference rates of the two arrays differ")
        rows.append(
            {
                "psi": f"PSI{psi}",
                "weight": repr(weights[psi]),
                "reference_rate": repr(ref[i]),
                "signal_variance_oe": repr(cov[diag_idx[i]]),
                "signal_variance_rate": repr(signal_rate[psi]),
            }
        )
    return rows


def formats_used(git_dir: Path, commit: str) -> set[str]:
    sas = git_show(git_dir, commit, "PSI/Programs/PSI_HOSP_MEASURES.SAS") or ""
    return set(re.findall(r"\$([A-Z0-9_]+)\.", sas))


def parse_formats(sas: str, wanted: set[str]) -> list[dict[str, str]]:
    """``VALUE $NAME 'A', 'B' ... = '1' OTHER = '0';`` blocks -> (list, system, value) rows."""
    rows = []
    for m in re.finditer(r"VALUE\s+\$(\w+)(.*?);", sas, re.IGNORECASE | re.DOTALL):
        name, body = m.group(1).upper(), m.group(2)
        if name not in wanted:
            continue
        ones = body.split("=")[0]
        for code in re.findall(r"['\"]([A-Z0-9]+)['\"]", ones):
            system = "icd10pcs" if len(code) == 7 and name.endswith("P") else "icd10cm"
            rows.append({"list": name, "system": system, "value": code, "source": "formats"})
    return rows


def _prefixes(token: str) -> list[str]:
    """``T31.2-T31.9`` -> T312..T319; ``A40-A41`` -> A40, A41; ``J93`` -> J93."""
    token = token.replace(".", "").upper()
    if "-" not in token:
        return [token]
    first, last = token.split("-")
    i = 0
    while i < len(first) and first[i] == last[i]:
        i += 1
    head, lo, hi = first[:i], first[i:], last[i:]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(lo) == 1:
        return [head + c for c in alphabet[alphabet.index(lo) : alphabet.index(hi) + 1]]
    return [head + str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1)]


def expand_definitions() -> list[dict[str, str]]:
    import simple_icd_10_cm as cm

    leaves = [c for c in cm.get_all_codes(False) if cm.is_leaf(c)]
    text = DEFINITIONS.read_text(encoding="utf-8").splitlines()
    reader = csv.reader(line for line in text if not line.startswith("#"))
    rows: list[dict[str, str]] = []
    for name, system, value, flt, *_note in reader:
        if system == "icd10pcs":
            rows.append({"list": name, "system": system, "value": value, "source": "definition"})
            continue
        if cm.is_valid_item(value) and cm.is_chapter_or_block(value):
            codes = [cm.remove_dot(c) for c in cm.get_descendants(value) if cm.is_leaf(c)]
        else:
            codes = [c for p in _prefixes(value) for c in leaves if c.startswith(p)]
        if flt:
            pattern = re.compile(flt)
            codes = [c for c in codes if pattern.search(cm.get_description(c))]
        if not codes:
            raise SystemExit(f"{name}: {value} matches no ICD-10-CM code")
        rows.extend(
            {"list": name, "system": system, "value": c, "source": "definition"} for c in codes
        )
    seen: set[tuple[str, str, str]] = set()
    out = []
    for r in rows:
        key = (r["list"], r["system"], r["value"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("git_dir", nargs="?", type=Path, default=DEFAULT_GIT)
    ap.add_argument("--commit", default="HEAD")
    args = ap.parse_args(argv)
    commit = subprocess.run(
        ["git", f"--git-dir={args.git_dir}", "rev-parse", args.commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    OUT.mkdir(parents=True, exist_ok=True)
    params = parameters(args.git_dir, commit)
    with (OUT / "ahrq_psi_v2024_parameters.csv").open("w", newline="", encoding="utf-8") as f:
        f.write(
            f"# AHRQ PSI {VERSION} PSI 90 parameters, from AHRQ/AHRQ-Quality-Indicators at "
            f"{commit} (PSI_HOSP_Composite_Wt/Composite_Arrays/Sigvar_Array_{VERSION}.sas)\n"
        )
        w = csv.DictWriter(f, fieldnames=list(params[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(params)
    used = formats_used(args.git_dir, commit)
    formats = git_show(args.git_dir, commit, "PSI/Programs/PSI_HOSP_FORMATS.SAS")
    if formats:
        rows = parse_formats(formats, used)
        origin = f"PSI_HOSP_FORMATS.SAS at {commit}"
    else:
        rows = expand_definitions()
        origin = (
            f"{DEFINITIONS.relative_to(ROOT)} (PSI_HOSP_FORMATS.SAS is not in the snapshot at "
            f"{commit}); ICD-10-CM stems expanded with simple-icd-10-cm"
        )
    defined = {r["list"] for r in rows}
    missing = sorted(
        (used & {line.split(",")[0] for line in DEFINITIONS.read_text().splitlines()}) - defined
    )
    if missing:
        print("lists without codes:", ", ".join(missing), file=sys.stderr)
    with (OUT / "ahrq_psi_v2024_codes.csv").open("w", newline="", encoding="utf-8") as f:
        f.write(f"# AHRQ PSI {VERSION} code lists from {origin}\n")
        f.write("# system icd10cm: undotted code (exact match); icd10pcs: SQL LIKE pattern\n")
        w = csv.DictWriter(f, fieldnames=["list", "system", "value"], lineterminator="\n")
        w.writeheader()
        w.writerows({k: r[k] for k in ("list", "system", "value")} for r in rows)
    print(f"{len(params)} PSI 90 components, {len(rows)} code rows in {len(defined)} lists")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
