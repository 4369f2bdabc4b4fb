"""Small OIG LEIE files for the staff tests (the UPDATED.csv layout)."""

from __future__ import annotations

import csv
from pathlib import Path


def _leie_columns() -> tuple[str, ...]:
    from cmo.staff.screening import LEIE_COLUMNS

    return LEIE_COLUMNS


def leie_row(**values: str) -> dict[str, str]:
    row = dict.fromkeys(_leie_columns(), "")
    row.update(NPI="0000000000", DOB="00000000", EXCLDATE="20200115", REINDATE="00000000",
               WAIVERDATE="00000000", EXCLTYPE="1128a1")  # fmt: skip
    row.update(values)
    return row


def write_leie(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=_leie_columns())
        w.writeheader()
        w.writerows(rows)
    return path
