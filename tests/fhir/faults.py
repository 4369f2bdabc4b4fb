"""A seeded fault injector for the ingest, and the contract it must keep.

``mutate`` rewrites a Bulk export: a share of its lines get byte-level faults (a flipped,
inserted or deleted byte, a NUL, a stray CR, invalid UTF-8, a cut line, a split line) or
JSON-level faults (a value of the wrong FHIR type, NaN / 1e400 / trailing commas, a missing
or odd resourceType or id, deep nesting, a newer version of another line's resource, a leap
second); one file is gzipped under its .ndjson name. ``check`` ingests the result and returns
what broke the contract: every line loaded, quarantined (with its file and true line number),
superseded, of another type, or blank; the counts adding up; nothing else.

Run many seeds and print the totals (docs/performance.md, "Reliability: ingest"):
``.venv/bin/python tests/fhir/faults.py --seeds 10``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cmo.fhir.schema import BY_TYPE

_NAME = re.compile(r"[A-Z][A-Za-z]{0,63}")
RAW = {"NaN": b"NaN", "Inf": b"-Infinity", "Big": b"1e400", "Nested": b"[" * 600 + b"]" * 600}
WRONG = [
    "yes", "Y", "t", 2.5, 2.0, 3000000000, True, False, None, [], {}, "", 7, -0, "98.6",
    "x" * 3000, "__RAW_NaN__", "__RAW_Inf__", "__RAW_Big__", {"value": "__RAW_NaN__"},
]  # fmt: skip


def _scalar_paths(doc: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a scalar (or empty container) in a parsed resource."""
    if isinstance(doc, dict) and doc:
        return [p for k, v in doc.items() for p in _scalar_paths(v, (*path, k))]
    if isinstance(doc, list) and doc:
        return [p for i, v in enumerate(doc) for p in _scalar_paths(v, (*path, i))]
    return [path] if path else []


def _set(doc: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _dump(doc: Any) -> bytes:
    out = orjson.dumps(doc)
    for token, raw in RAW.items():
        out = out.replace(f'"__RAW_{token}__"'.encode(), raw)
    return out


def _json_fault(rng: random.Random, line: bytes, ids: list[tuple[str, str]]) -> list[bytes]:
    doc = orjson.loads(line)
    kind = rng.randrange(10)
    if kind <= 3:  # a value of the wrong type somewhere (read or not by a column)
        paths = _scalar_paths(doc)
        _set(doc, rng.choice(paths), rng.choice(WRONG))
    elif kind == 4:
        doc.pop(rng.choice(["id", "resourceType"]), None)
    elif kind == 5:
        doc["resourceType"] = rng.choice([5, "", "patient", "Basic", ["Patient"], None, "Zz"])
    elif kind == 6:
        doc["id"] = rng.choice(["", 17, None, "new-" + str(rng.randrange(10**6))])
    elif kind == 7:  # a newer version of another line's resource: the other line is superseded
        rtype, rid = rng.choice(ids)
        doc = {"resourceType": rtype, "id": rid, "meta": {"lastUpdated": "2099-01-01T00:00:60Z"}}
    elif kind == 8:
        doc["extension"] = "__RAW_Nested__"
    else:  # trailing comma, or CR as whitespace
        text = _dump(doc)
        return [text[:-1] + b",}" if rng.random() < 0.5 else text.replace(b",", b",\r", 3)]
    return [_dump(doc)]


def _byte(rng: random.Random) -> bytes:
    """Any byte but a newline (a split is a fault of its own, so the truth keeps its lines)."""
    b = rng.randrange(255)
    return bytes([b + 1 if b >= 10 else b])


def _byte_fault(rng: random.Random, line: bytes) -> list[bytes]:
    if not line:
        return [_byte(rng)]
    i = rng.randrange(len(line))
    kind = rng.randrange(8)
    special = rng.choice([b"\r", b"\x00", b"\xff", b"\xc3", b'"', b",", b"}", b"\\", b"\x7f"])
    if kind == 0:
        return [line[:i] + _byte(rng) + line[i + 1 :]]
    if kind == 1:
        return [line[:i] + special + line[i:]]
    if kind == 2:
        return [line[:i] + line[i + 1 + rng.randrange(20) :]]
    if kind == 3:
        return [line[:i]]  # cut
    if kind == 4:
        return [line[:i], line[i:]]  # split in two by a newline
    if kind == 5:
        return [line + b"\r"]  # a CRLF ending: loads
    if kind == 6:
        return [line[:i] + special + line[i + 1 :]]
    return [b"   "]  # blank


@dataclass
class Export:
    folder: Path
    files: dict[str, list[bytes]]  # name → its lines as the ingest must see them
    mutated: dict[str, set[int]]  # name → 1-based numbers of lines that carry a fault


def mutate(src: Path, dest: Path, seed: int, share: float = 0.45) -> Export:
    """Copy the NDJSON files of ``src`` into ``dest`` with faults in ``share`` of the lines."""
    rng = random.Random(seed)
    dest.mkdir(parents=True)
    originals = {p.name: p.read_bytes().split(b"\n")[:-1] for p in sorted(src.glob("*.ndjson"))}
    ids = []
    for lines in originals.values():
        for x in lines[:50]:
            doc = orjson.loads(x)
            if doc.get("resourceType") in BY_TYPE:
                ids.append((doc["resourceType"], doc["id"]))
    files, mutated = {}, {}
    gz = rng.choice(sorted(originals))
    for name, lines in originals.items():
        out: list[bytes] = []
        marks: set[int] = set()
        for line in lines:
            if rng.random() >= share:
                out.append(line)
                continue
            faulty = _byte_fault(rng, line) if rng.random() < 0.5 else _json_fault(rng, line, ids)
            for piece in faulty:
                out.append(piece)
                marks.add(len(out))
        data = b"\n".join(out) + b"\n"
        (dest / name).write_bytes(gzip.compress(data) if name == gz else data)
        files[name] = [_as_read(x) for x in out]
        mutated[name] = marks
    return Export(dest, files, mutated)


def _as_read(line: bytes) -> bytes:
    """A line as the ingest reads it (a CRLF ending's CR dropped)."""
    return line[:-1] if line.endswith(b"\r") else line


@dataclass
class Outcome:
    lines: int = 0
    mutated: int = 0
    crashed: int = 0
    lost: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    seconds: float = 0.0


_RT_ID = re.compile(rb'^\{"resourceType":"([A-Za-z]+)","id":"([^"\\]*)"')


def _id_of(line: bytes) -> tuple[str | None, str | None]:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        # Strict JSON fails (1e400 in a string element, which the ingest reads as text):
        # the type and id as the demo writes them, first in the line.
        m = _RT_ID.match(line)
        return (m.group(1).decode(), m.group(2).decode()) if m else (None, None)
    if not isinstance(doc, dict):
        return None, None
    rt, rid = doc.get("resourceType"), doc.get("id")
    return (rt if isinstance(rt, str) else None), (rid if isinstance(rid, str) else None)


def _holds(line: bytes, rid: str) -> bool:
    """The line is the one that gave a row with this id."""
    if _id_of(line)[1] == rid:
        return True
    return json.dumps(rid)[1:-1].encode() in line or rid.encode() in line


def check(export: Export, warehouse: Path) -> Outcome:
    """Ingest the export and compare the warehouse with the input, line by line."""
    from cmo.fhir.ingest import ingest
    from cmo.warehouse import connect

    out = Outcome(lines=sum(len(v) for v in export.files.values()))
    out.mutated = sum(len(v) for v in export.mutated.values())
    t0 = time.perf_counter()
    with connect(warehouse) as wh:
        try:
            result = ingest([export.folder], wh, progress=False)
        except Exception as exc:  # noqa: BLE001 - any exception is the crash being counted
            out.crashed = 1
            out.lost.append(f"crash: {type(exc).__name__}: {str(exc)[:300]}")
            return out
        out.seconds = time.perf_counter() - t0
        counts = result.counts
        assert counts is not None
        if counts.lines != out.lines:
            out.lost.append(f"counts.lines {counts.lines} != {out.lines} input lines")
        loaded: dict[tuple[str, int], tuple[str, str]] = {}
        winner: dict[tuple[str, str], tuple[str, int]] = {}
        for res in BY_TYPE.values():
            for f, n, rid in wh.sql(
                f"SELECT source_file, source_line, id FROM fhir__{res.table}"
            ).fetchall():
                loaded[(Path(f).name, n)] = (res.resource_type, rid)
                winner[(res.resource_type, rid)] = (Path(f).name, n)
        quarantined = {
            (Path(f).name, n): text
            for f, n, text in wh.sql("SELECT file, line, text FROM fhir__quarantine").fetchall()
        }
    for (name, n), text in quarantined.items():
        lines = export.files.get(name, [])
        if not 1 <= n <= len(lines):
            out.misplaced.append(f"{name}:{n} quarantined, but the file has {len(lines)} lines")
        elif text is not None:
            want = lines[n - 1][:2000].decode("utf-8", "replace")[:500]
            if text != want and text != lines[n - 1].decode("utf-8", "replace")[:500]:
                out.misplaced.append(f"{name}:{n} quarantined with another line's text")
    blank = other = superseded = 0
    for name, lines in export.files.items():
        for n, line in enumerate(lines, 1):
            key = (name, n)
            if key in loaded:
                if key in quarantined:
                    out.misplaced.append(f"{name}:{n} both loaded and quarantined")
                if not _holds(line, loaded[key][1]):
                    out.misplaced.append(f"{name}:{n} loaded as {loaded[key]}, another line")
                continue
            if key in quarantined:
                continue
            rt, rid = _id_of(line)
            if not line.strip():
                blank += 1
            elif rt is not None and rid and (rt, rid) in winner:
                superseded += 1
            elif rt is not None and rid and rt not in BY_TYPE and _NAME.fullmatch(rt):
                other += 1
            else:
                state = "mutated" if n in export.mutated[name] else "untouched"
                out.lost.append(
                    f"{name}:{n} ({state}) neither loaded nor quarantined: {line[:80]!r}"
                )
    if (blank, other) != (counts.blank, counts.other):
        out.lost.append(f"blank/other {counts.blank}/{counts.other}, input has {blank}/{other}")
    return out


def demo_export(folder: Path, patients: int, seed: int = 7) -> Path:
    """A `cmo demo` export (the demo generator, default window) into ``folder``."""
    from datetime import date

    from cmo.demo import DEFAULT_MONTHS
    from cmo.demo.generate import generate

    generate(folder, patients=patients, seed=seed, start=date(2023, 1, 1),
             months=DEFAULT_MONTHS, progress=False, workers=1)  # fmt: skip
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--patients", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cmo-faults-"))
    try:
        demo_export(work / "export", args.patients)
        total = Outcome()
        for seed in range(args.seeds):
            export = mutate(work / "export", work / f"m{seed}", seed)
            got = check(export, work / f"w{seed}.duckdb")
            total.lines += got.lines
            total.mutated += got.mutated
            total.crashed += got.crashed
            total.lost += got.lost
            total.misplaced += got.misplaced
            total.seconds += got.seconds
            print(
                f"seed {seed}: {got.lines} lines, {got.mutated} mutated, crash {got.crashed}, "
                f"lost {len(got.lost)}, misplaced {len(got.misplaced)}, {got.seconds:.1f} s"
            )
            for problem in (got.lost + got.misplaced)[:5]:
                print("   ", problem)
        print(
            f"total: {args.seeds} runs, {total.lines} lines, {total.mutated} mutated lines, "
            f"{total.crashed} crashes, {len(total.lost)} lines lost, "
            f"{len(total.misplaced)} misplaced line numbers"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if total.crashed or total.lost or total.misplaced else 0)


if __name__ == "__main__":
    main()
