"""Exclusion screening without Django: read the OIG LEIE and SAM.gov files, match practitioners.

Sources:

- OIG, "LEIE Downloadable Databases" (https://oig.hhs.gov/exclusions/exclusions_list.asp):
  ``UPDATED.csv`` with the columns in :data:`LEIE_COLUMNS`; dates ``YYYYMMDD`` with
  ``00000000`` for none; NPI ``0000000000`` for none. A row whose reinstatement date has passed
  is no longer an exclusion; a waiver (WAIVERDATE, WVRSTATE) lets a state's Medicaid pay.
- GSA, "SAM.gov Exclusions Public Extract" (CSV): the columns read are named in
  :data:`SAM_COLUMNS`; dates ``MM/DD/YYYY``; a Termination Date of ``Indefinite`` or empty means
  the exclusion has no end. It carries no date of birth.
- 42 CFR 455.436 and OIG's 2013 Special Advisory Bulletin on the effect of exclusion: check the
  LEIE and SAM at least monthly; a name-only match is verified before anyone acts on it.

Matching (most certain first): the NPI (``npi``, a confirmed hit); the normalised last and first
name with the date of birth (``name_dob``, probable); the name alone with a rapidfuzz ratio
(normalised Indel similarity of "LAST FIRST", 0-100) of at least :data:`NAME_THRESHOLD`
(``name``, possible, needs review), unless both dates of birth are known and differ. Name
comparisons are blocked on the first letter of the last name, so 80,000 rows x 5,000
practitioners take seconds, not minutes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from cmo.errors import InputError

LEIE_COLUMNS = (
    "LASTNAME", "FIRSTNAME", "MIDNAME", "BUSNAME", "GENERAL", "SPECIALTY", "UPIN", "NPI", "DOB",
    "ADDRESS", "CITY", "STATE", "ZIP", "EXCLTYPE", "EXCLDATE", "REINDATE", "WAIVERDATE",
    "WVRSTATE",
)  # fmt: skip
SAM_COLUMNS = ("Classification", "First", "Last", "Active Date", "Termination Date")
NO_NPI = "0000000000"
NAME_THRESHOLD = 90.0
_SUFFIXES = {"JR", "SR", "II", "III", "IV", "MD", "DO"}


@dataclass(frozen=True)
class Person:
    """A practitioner to screen."""

    id: Any
    npi: str | None
    family: str
    given: str
    birth_date: date | None = None


@dataclass(frozen=True)
class Exclusion:
    source: str  # "leie" | "sam"
    line: int
    row: dict[str, str]
    npi: str | None
    last: str  # normalised
    first: str  # normalised
    birth_date: date | None
    active: bool
    waiver: str = ""


@dataclass
class Hit:
    practitioner_id: Any
    npi: str | None
    match_on: str  # npi | name_dob | name
    active: bool
    score: float
    source: str
    waiver: str
    row: dict[str, str] = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        """The issue's JSON shape (plus the list it came from)."""
        return {
            "practitioner_id": self.practitioner_id,
            "npi": self.npi,
            "match_on": self.match_on,
            "active": self.active,
            "score": round(self.score, 1),
            "source": self.source,
            "waiver": self.waiver or None,
            "row": self.row,
        }


@dataclass(frozen=True)
class SourceFile:
    path: Path
    sha256: str
    modified: date
    rows: list[Exclusion]


@lru_cache(maxsize=65536)  # names repeat: the LEIE has ~80,000 rows, far fewer names
def normalise(name: str) -> str:
    """Upper case ASCII letters and single spaces; accents, punctuation and suffixes dropped."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    words = re.sub(r"[^A-Z ]+", " ", text.replace("'", "")).split()
    return " ".join(w for w in words if w not in _SUFFIXES)


def _date(value: str, fmt: str, where: str) -> date | None:
    value = value.strip()
    if not value or value.lower() == "indefinite":
        return None
    try:
        return datetime.strptime(value, fmt).date()
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date ({fmt})") from None


def _ymd(value: str, path: Path, line: int) -> date | None:
    """An LEIE date (``YYYYMMDD``, ``00000000`` = none); slicing is 5x faster than strptime."""
    v = value.strip()
    if not v or v == "00000000":
        return None
    if len(v) == 8 and v.isdigit():
        try:
            return date(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            pass
    raise InputError(f"{path.name} line {line}: {value!r} is not a date (YYYYMMDD)")


def _open(path: Path, required: Iterable[str], kind: str) -> tuple[bytes, list[dict[str, str]]]:
    """The file's bytes and rows; an unreadable, headerless or empty file is an InputError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {kind} file {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # older LEIE files are Windows-1252/Latin-1
        text = data.decode("latin-1")
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(
            f"{path} is not in the {kind} layout: missing column(s) {', '.join(missing)}",
            hint="nobody was marked clear; download the file again and re-run",
        )
    rows = list(reader)
    if not rows:
        raise InputError(
            f"{path} has no rows", hint="nobody was marked clear; an empty list is not a clear one"
        )
    return data, rows


def _source(path: Path, data: bytes, rows: list[Exclusion]) -> SourceFile:
    modified = datetime.fromtimestamp(path.stat().st_mtime).date()
    return SourceFile(path, hashlib.sha256(data).hexdigest(), modified, rows)


def read_leie(path: Path, today: date) -> SourceFile:
    """The OIG LEIE ``UPDATED.csv`` as exclusions (reinstated rows kept, marked not active)."""
    data, raw = _open(path, LEIE_COLUMNS, "OIG LEIE (UPDATED.csv)")
    out = []
    for line, r in enumerate(raw, start=2):
        reinstated = _ymd(r["REINDATE"], path, line)
        waived = _ymd(r["WAIVERDATE"], path, line)
        npi = r["NPI"].strip()
        out.append(
            Exclusion(
                source="leie",
                line=line,
                row=r,
                npi=npi if npi and npi != NO_NPI else None,
                last=normalise(r["LASTNAME"]),
                first=normalise(r["FIRSTNAME"]),
                birth_date=_ymd(r["DOB"], path, line),
                active=reinstated is None or reinstated > today,
                waiver=f"waiver {waived:%Y-%m-%d} {r['WVRSTATE'].strip()}".strip()
                if waived
                else "",
            )
        )
    return _source(path, data, out)


def read_sam(path: Path, today: date) -> SourceFile:
    """The SAM.gov exclusions extract (individuals only: firms have no practitioner to match)."""
    data, raw = _open(path, SAM_COLUMNS, "SAM.gov exclusions extract")
    out = []
    for line, r in enumerate(raw, start=2):
        if r["Classification"].strip().lower() != "individual":
            continue
        ends = _date(r["Termination Date"], "%m/%d/%Y", f"{path.name} line {line}")
        npi = (r.get("NPI") or "").strip()
        out.append(
            Exclusion(
                source="sam",
                line=line,
                row={k: (v or "").strip() for k, v in r.items() if k},
                npi=npi if npi and npi != NO_NPI else None,
                last=normalise(r["Last"]),
                first=normalise(r["First"]),
                birth_date=None,
                active=ends is None or ends > today,
            )
        )
    return _source(path, data, out)


def screen(
    people: Iterable[Person], exclusions: Iterable[Exclusion], threshold: float = NAME_THRESHOLD
) -> list[Hit]:
    """Every candidate hit, the most certain per (practitioner, row)."""
    from rapidfuzz import fuzz, process

    people = list(people)
    rows = list(exclusions)
    hits: dict[tuple[Any, int], Hit] = {}

    def add(p: Person, x: Exclusion, match_on: str, score: float) -> None:
        key = (p.id, id(x))
        if key not in hits:
            hits[key] = Hit(p.id, p.npi, match_on, x.active, score, x.source, x.waiver, x.row)

    by_npi: dict[str, list[Exclusion]] = defaultdict(list)
    by_name_dob: dict[tuple[str, str, date], list[Exclusion]] = defaultdict(list)
    blocks: dict[str, list[Exclusion]] = defaultdict(list)
    for x in rows:
        if x.npi:
            by_npi[x.npi].append(x)
        if x.last:  # an individual (a firm has BUSNAME only)
            if x.birth_date:
                by_name_dob[(x.last, x.first, x.birth_date)].append(x)
            blocks[x.last[0]].append(x)

    names = {p.id: (normalise(p.family), normalise(p.given)) for p in people}
    for p in people:
        for x in by_npi.get(p.npi or "", ()):
            add(p, x, "npi", 100.0)
        last, first = names[p.id]
        if p.birth_date:
            for x in by_name_dob.get((last, first, p.birth_date), ()):
                add(p, x, "name_dob", 100.0)

    queries: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        if names[p.id][0]:
            queries[names[p.id][0][0]].append(p)
    for letter, group in queries.items():
        choices = blocks.get(letter)
        if not choices:
            continue
        scores = process.cdist(
            [f"{names[p.id][0]} {names[p.id][1]}" for p in group],
            [f"{x.last} {x.first}" for x in choices],
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype="uint8",
            workers=-1,
        )
        for i, j in zip(*scores.nonzero(), strict=True):
            p, x = group[i], choices[j]
            if p.birth_date and x.birth_date and p.birth_date != x.birth_date:
                continue  # both dates known and different: another person
            add(p, x, "name", float(scores[i, j]))
    order = {"npi": 0, "name_dob": 1, "name": 2}
    return sorted(
        hits.values(), key=lambda h: (order[h.match_on], -h.score, str(h.practitioner_id))
    )
