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
  lists it in every commit but carries none of its blobs, so the lists are then built from
  ``scripts/data/ahrq_psi_v2024_list_definitions.csv`` (each list's ICD-10-CM stems and ICD-10-PCS
  patterns written from the AHRQ PSI v2024 Technical Specifications appendices), ICD-10-CM stems
  expanded to every billable code by ``simple-icd-10-cm``;
- the format files of the snapshot's other modules that do carry their blob
  (``SIBLING_FORMATS``: PQI v2024, MHI v2024): a list the PSI rules use that one of them defines
  under the same SAS format name (``MDC14PRINDX``, ``MDC15PRINDX``, ``DIALY2P``, ``DIALYIP``) is
  AHRQ's own list and replaces the rebuilt one; the script prints how the two differ.

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
# Format files of other modules of the same AHRQ software in the snapshot, searched in this
# order for the PSI lists PSI_HOSP_FORMATS.SAS would hold: AHRQ shares format names (and the
# lists behind them) across its modules. PQI is the same SAS QI v2024 release (July 2024) as the
# PSI macros; MHI is the SAS MHI v2024 beta (September 2024), used only for what PQI lacks.
SIBLING_FORMATS = (
    "PQI/Programs/PQI_AREA_FORMATS.SAS",
    "MHI/Programs/MHI_FORMATS.sas",
)
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


def parse_formats(sas: str, wanted: set[str], systems: dict[str, str]) -> list[dict[str, str]]:
    """The codes each wanted ``VALUE $NAME ... ;`` block maps to ``'1'`` -> (list, system,
    value) rows. Both of AHRQ's layouts are read: one code per label (``"A34" = '1'``) and a
    comma-separated run of codes before one label (``'3E1M39Z', '5A1D00Z' = '1'``)."""
    sas = re.sub(r"/\*.*?\*/", "", sas, flags=re.DOTALL)  # comments may hold ';' or quotes
    rows = []
    for m in re.finditer(r"VALUE\s+\$(\w+)(.*?);", sas, re.IGNORECASE | re.DOTALL):
        name, body = m.group(1).upper(), m.group(2)
        if name not in wanted:
            continue
        if re.search(r"['\"]\s*-\s*['\"]", body):
            raise SystemExit(f"${name}: a code range, which this reader does not expand")
        for run, label in re.findall(
            r"((?:\s*,?\s*['\"][A-Z0-9]+['\"])+)\s*=\s*['\"]([^'\"]*)['\"]", body, re.I
        ):
            if label != "1":
                continue
            for code in re.findall(r"['\"]([A-Z0-9]+)['\"]", run, re.IGNORECASE):
                rows.append({"list": name, "system": systems[name], "value": code.upper()})
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


def list_systems() -> dict[str, str]:
    """Each list's code system, as the definitions file names it (a list has one system)."""
    lines = DEFINITIONS.read_text(encoding="utf-8").splitlines()
    return {r[0]: r[1] for r in csv.reader(ln for ln in lines if not ln.startswith("#"))}


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + pattern.replace("_", ".").replace("%", ".*") + "$")


def compare(name: str, ahrq: list[dict[str, str]], rebuilt: list[dict[str, str]]) -> str:
    """One line: how AHRQ's list differs from the rebuilt one (ICD-10-CM: code sets; ICD-10-PCS:
    AHRQ's codes no rebuilt pattern matches, and rebuilt patterns matching none of them)."""
    a = sorted({r["value"] for r in ahrq})
    b = sorted({r["value"] for r in rebuilt})
    if ahrq[0]["system"] == "icd10pcs":
        pats = [_like(p) for p in b]
        missed = [c for c in a if not any(p.match(c) for p in pats)]
        idle = [p for p in b if not any(_like(p).match(c) for c in a)]
        return (
            f"{name}: AHRQ {len(a)} codes, rebuilt {len(b)} patterns; AHRQ codes the rebuild "
            f"missed: {len(missed)} {missed[:8]}; rebuilt patterns matching no AHRQ code: {idle}"
        )
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    return (
        f"{name}: AHRQ {len(a)} codes, rebuilt {len(b)}; only AHRQ {len(only_a)} "
        f"{only_a[:8]}; only rebuilt {len(only_b)} {only_b[:8]}"
    )


def code_lists(git_dir: Path, commit: str) -> tuple[list[dict[str, str]], list[str]]:
    """The rows to ship and one provenance line per source used. PSI_HOSP_FORMATS.SAS when the
    snapshot holds it; else the rebuilt definitions, with every list a sibling module's format
    file defines under the same name replaced by AHRQ's own."""
    used = formats_used(git_dir, commit)
    systems = list_systems()
    formats = git_show(git_dir, commit, "PSI/Programs/PSI_HOSP_FORMATS.SAS")
    if formats:
        return parse_formats(formats, used, systems), [f"PSI_HOSP_FORMATS.SAS at {commit}"]
    rebuilt = expand_definitions()
    by_list: dict[str, list[dict[str, str]]] = {}
    for r in rebuilt:
        by_list.setdefault(r["list"], []).append(r)
    taken: dict[str, list[dict[str, str]]] = {}
    origin = []
    for path in SIBLING_FORMATS:
        sas = git_show(git_dir, commit, path)
        wanted = (used & set(by_list)) - set(taken)
        rows = parse_formats(sas, wanted, systems) if sas else []
        names = sorted({r["list"] for r in rows})
        for name in names:
            taken[name] = [r for r in rows if r["list"] == name]
            print(compare(name, taken[name], by_list[name]))
        if names:
            origin.append(f"AHRQ's own lists {', '.join(names)}: {path} at {commit}")
    origin.append(
        f"the other lists: {DEFINITIONS.relative_to(ROOT)} (PSI_HOSP_FORMATS.SAS is not in the "
        f"snapshot at {commit}); ICD-10-CM stems expanded with simple-icd-10-cm"
    )
    rows = [r for name, rs in by_list.items() for r in taken.get(name, rs)]
    return rows, origin


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
    rows, origin = code_lists(args.git_dir, commit)
    defined = {r["list"] for r in rows}
    missing = sorted((formats_used(args.git_dir, commit) & set(list_systems())) - defined)
    if missing:
        print("lists without codes:", ", ".join(missing), file=sys.stderr)
    with (OUT / "ahrq_psi_v2024_codes.csv").open("w", newline="", encoding="utf-8") as f:
        f.write(f"# AHRQ PSI {VERSION} code lists, from AHRQ/AHRQ-Quality-Indicators:\n")
        f.writelines(f"# - {line}\n" for line in origin)
        f.write("# system icd10cm: undotted code (exact match); icd10pcs: SQL LIKE pattern\n")
        w = csv.DictWriter(f, fieldnames=["list", "system", "value"], lineterminator="\n")
        w.writeheader()
        w.writerows({k: r[k] for k in ("list", "system", "value")} for r in rows)
    print(f"{len(params)} PSI 90 components, {len(rows)} code rows in {len(defined)} lists")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
