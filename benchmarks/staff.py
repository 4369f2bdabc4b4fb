"""Exclusion screening speed (issue 15): 80,000 LEIE rows against 5,000 practitioners, <= 5 s.

The rows are synthetic but shaped like the real ``UPDATED.csv`` (every column, YYYYMMDD dates,
most NPIs 0000000000, a few reinstated); names are drawn from a few thousand surnames so the
fuzzy name step meets the collisions a real list has. Timed: reading and parsing the file plus
matching (NPI, name + DOB, fuzzy name), as ``cmo staff screen`` does before it stores the run.

``python -m benchmarks staff [--quick]``
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from datetime import date
from pathlib import Path

SYLLABLES = "ba be bi bo da de di do ka ke ko la le li lo ma me mi mo na ne ni no ra re ri ro "
SYLLABLES += "sa se si so ta te ti to va ve vi wa we ya yo za zo han son berg man ley ton"


def _names(rng: random.Random, n: int, parts: int) -> list[str]:
    syl = SYLLABLES.split()
    return ["".join(rng.choice(syl) for _ in range(parts)).upper() for _ in range(n)]


def write_leie(path: Path, n_rows: int, npis: list[str], rng: random.Random) -> None:
    """A synthetic UPDATED.csv with ``n_rows`` rows; the first ten carry ``npis``."""
    from cmo.staff.screening import LEIE_COLUMNS

    surnames, given = _names(rng, 3000, 3), _names(rng, 400, 2)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LEIE_COLUMNS)
        for i in range(n_rows):
            dob = f"{rng.randint(1940, 1995)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            reinstated = "20200101" if i % 50 == 0 else "00000000"
            npi = npis[i] if i < len(npis) else "0000000000"
            w.writerow(
                [rng.choice(surnames), rng.choice(given), "", "", "IND- LIC HC SERV PRO",
                 "NURSE/NURSES AIDE", "", npi, dob, "1 MAIN ST", "TOWN", "TX", "75001",
                 "1128a1", "20150101", reinstated, "00000000", ""]
            )  # fmt: skip


def run(quick: bool) -> dict:
    from cmo.identifiers import make_npi
    from cmo.staff.screening import Person, read_leie, screen

    n_rows, n_people = (8_000, 500) if quick else (80_000, 5_000)
    rng = random.Random(15)
    surnames, given = _names(rng, 3000, 3), _names(rng, 400, 2)
    people = [
        Person(
            i,
            make_npi(100_000_000 + i),
            rng.choice(surnames),
            rng.choice(given),
            date(rng.randint(1940, 1995), rng.randint(1, 12), rng.randint(1, 28)),
        )
        for i in range(n_people)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "UPDATED.csv"
        write_leie(path, n_rows, [p.npi or "" for p in people[:10]], rng)
        start = time.perf_counter()
        source = read_leie(path, date.today())
        parsed = time.perf_counter() - start
        hits = screen(people, source.rows)
        total = time.perf_counter() - start
    kinds = {k: sum(h.match_on == k for h in hits) for k in ("npi", "name_dob", "name")}
    print(
        f"screen {n_rows:,} LEIE rows x {n_people:,} practitioners: {total:.2f} s "
        f"(parse {parsed:.2f} s, match {total - parsed:.2f} s); hits {kinds}"
    )
    return {"rows": n_rows, "practitioners": n_people, "seconds": round(total, 2), "hits": kinds}
