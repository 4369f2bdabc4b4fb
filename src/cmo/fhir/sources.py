"""Finding the input files of an ingest: Bulk Data folders, NDJSON files, FHIR Bundles.

Order matters (on a ``meta.lastUpdated`` tie the later file wins): paths in the order given,
the files of a folder sorted by name, the files of a manifest in the manifest's order.
Files and folders whose names start with ``_`` or ``.`` are skipped in folder scans (exporters
keep metadata there, e.g. clinosim's ``_generator_metadata.json``).
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from cmo.errors import InputError

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
GZIP_MAGIC = b"\x1f\x8b"
# The longest line read (DuckDB's reader refuses longer ones; the line path quarantines them).
MAX_LINE = 32 * 1024 * 1024
# Syntax DuckDB's JSON reader (yyjson with its lenient flags) accepts but RFC 8259 does not:
# trailing commas, and NaN / Infinity as JavaScript writes them (every case of nan / inf is
# found where the warehouse reads a number or boolean: cmo.fhir.duck.leaf_checks). A regex
# with a literal first byte and two plain finds keep the screen at disk speed; a hit is only
# a candidate (the text may be inside a string): orjson, which is strict, decides.
_TRAILING_COMMA = re.compile(rb",\s*[\]}]")
_LITERALS = (b"NaN", b"Infinity")
CHUNK = 1 << 24


class IngestError(InputError):
    """A problem with the input as a whole: the CLI prints it as one line and exits non-zero."""


@dataclass
class Source:
    """One file to read. ``path`` is what the engine reads (a temporary NDJSON for a Bundle);
    ``name`` is what the warehouse records as source_file."""

    path: Path
    name: str
    size: int
    gzip: bool = False
    type_hint: str | None = None
    # (line, reason, text) found before the engine reads the file: a gzip break, a Bundle
    # entry that is not a resource. Quarantined as they are.
    problems: list[tuple[int | None, str, str | None]] = field(default_factory=list)
    lines: int = -1  # number of lines (a last line without newline counts)
    # Read line by line from the start: a line the engine's reader would take leniently
    # (trailing comma, NaN) or could not take at all (longer than MAX_LINE).
    line_by_line: bool = False


def _is_ndjson(p: Path) -> bool:
    return p.name.endswith(NDJSON_SUFFIXES)


def _scan_dir(d: Path) -> Iterator[tuple[Path, str | None]]:
    manifest = d / "manifest.json"
    if manifest.is_file():
        yield from _from_manifest(manifest)
        return
    for p in sorted(d.iterdir()):
        if p.name.startswith(("_", ".")):
            continue
        if p.is_dir():
            yield from _scan_dir(p)
        elif _is_ndjson(p) or p.suffix == ".json":
            yield p, None


def _from_manifest(manifest: Path) -> Iterator[tuple[Path, str | None]]:
    """The files a Bulk Data manifest lists (``output[].url``, resolved next to the manifest)."""
    try:
        doc = orjson.loads(_read_bytes(manifest))
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"{manifest}: not a Bulk Data manifest ({exc})") from None
    outputs = doc.get("output") if isinstance(doc, dict) else None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("url"), str) for o in outputs
    ):
        raise IngestError(
            f"{manifest}: not a Bulk Data manifest (expected an 'output' list of "
            "objects with a 'url')"
        )
    for out in outputs:
        url = urlparse(out["url"])
        # A relative url is a path next to the manifest; an absolute one (the server's
        # download link) is looked up by its file name in the manifest's folder.
        relative = manifest.parent / url.path if not url.scheme else None
        local = (
            relative if relative and relative.is_file() else manifest.parent / Path(url.path).name
        )
        if not local.is_file():
            raise IngestError(f"{manifest}: listed file {Path(url.path).name} does not exist")
        hint = out.get("type")
        yield local, hint if isinstance(hint, str) else None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from None


def _unreadable(p: Path) -> IngestError:
    return IngestError(f"cannot read {p}: permission denied")


def discover(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """Expand the command-line paths into (file, resource type hint) in ingest order."""
    found: list[tuple[Path, str | None]] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise IngestError(f"no such file or folder: {p}")
        try:
            if p.is_dir():
                found.extend(_scan_dir(p))
            elif p.name == "manifest.json":
                found.extend(_from_manifest(p))
            else:
                found.append((p, None))
        except PermissionError as exc:
            raise _unreadable(Path(exc.filename or p)) from None
    seen: set[Path] = set()
    unique = []
    for f, hint in found:
        if not os.access(f, os.R_OK):
            raise _unreadable(f)
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((f, hint))
    return unique


def is_gzip(path: Path) -> bool:
    """Gzip by its magic bytes, whatever the file is named (an export may gzip ``.ndjson``)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open(path: Path, gz: bool) -> Any:
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _chunks(path: Path, gz: bool) -> Iterator[tuple[bytes, bool]]:
    r"""The file as (complete lines, is last) pieces of about CHUNK bytes, split after a ``\n``."""
    carry = b""
    with _open(path, gz) as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut], False
            carry = data[cut:]
    yield carry, True


def strict_json(line: bytes) -> bool:
    """The line is RFC 8259 JSON (orjson is strict where DuckDB's reader is lenient)."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _candidates(data: bytes) -> Iterator[int]:
    """Offsets in ``data`` where lenient-only syntax may start (false hits included)."""
    for m in _TRAILING_COMMA.finditer(data):
        yield m.start()
    for lit in _LITERALS:
        i = data.find(lit)
        while i >= 0:
            yield i
            i = data.find(lit, i + 1)


def lenient_syntax(line: bytes) -> bool:
    """The line parses only with a lenient reader (trailing comma, NaN, Infinity)."""
    return next(_candidates(line), None) is not None and not strict_json(line)


def _lenient_lines(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``data`` that has syntax only a lenient reader takes."""
    seen: set[int] = set()
    for at in _candidates(data):
        start = data.rfind(b"\n", 0, at) + 1
        if start in seen:
            continue
        seen.add(start)
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        if not strict_json(data[start:end]):
            yield start, end


def scan(path: Path, gz: bool) -> tuple[int, bool]:
    r"""(lines, needs the line-by-line path): one pass at disk speed before the engine reads.

    Lines are split on ``\n`` only (a last line without one counts). The file needs the line
    path when a line is longer than MAX_LINE or holds syntax the engine would take leniently.
    """
    n, lenient, too_long = 0, False, False
    for data, last in _chunks(path, gz):
        n += data.count(b"\n") + (1 if last and data else 0)
        # A chunk is ~CHUNK bytes unless a line ran across reads: only then can one be too long.
        if len(data) > MAX_LINE and not too_long:
            too_long = max(map(len, data.split(b"\n"))) > MAX_LINE
        if not lenient and next(_lenient_lines(data), None) is not None:
            lenient = True
    return n, lenient or too_long


def iter_lines(src: Source) -> Iterator[tuple[int, bytes]]:
    r"""(line number, bytes) of every line: split on ``\n`` only, a ``\r\n`` ending's ``\r``
    and a first line's UTF-8 byte order mark removed. A raw ``\r`` inside a line stays (JSON
    whitespace); line numbers never shift."""
    n = 0
    for data, last in _chunks(src.path, src.gzip):
        lines = data.split(b"\n")
        if not last:
            lines.pop()  # the empty piece after the chunk's final newline
        elif not lines[-1]:
            lines.pop()
        for line in lines:
            n += 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            yield n, line


Workdir = Callable[[], Path]  # makes the run's scratch folder on first use


def check_gzip(path: Path, workdir: Workdir) -> tuple[Path, tuple[int | None, str] | None]:
    """Read a gzip file through; if it is truncated or corrupt, salvage the complete lines.

    Returns the file to read (the original, or a temporary plain NDJSON of the lines that
    decompressed whole) and the problem to quarantine, if any. Done before the ingest's
    transaction because an engine read error would abort the whole run.
    """
    lines = 0
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                lines += chunk.count(b"\n")
        return path, None
    except (OSError, EOFError, zlib.error) as exc:
        reason = f"unreadable gzip ({type(exc).__name__}: {exc})"
    salvaged = workdir() / (path.name.removesuffix(".gz") + ".salvaged")
    # zlib directly (not gzip.open) so the output decoded before the break is kept.
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header
    good, tail = 0, b""
    with open(path, "rb") as fh, open(salvaged, "wb") as out:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                data = tail + inflater.decompress(chunk)
                cut = data.rfind(b"\n") + 1
                out.write(data[:cut])
                good += data.count(b"\n", 0, cut)
                tail = data[cut:]
                if inflater.eof:  # a later member or trailing garbage: stop at the first
                    break
        except zlib.error:
            pass
    # The line that broke is the one after the last complete line.
    return salvaged, (good + 1, reason)


# Resource types that exporters reference conditionally (Synthea: ``Practitioner?identifier=
# http://hl7.org/fhir/sid/us-npi|9999967``, ``Organization?identifier=...``, ``Location?...``).
CONDITIONAL_TARGETS = ("Practitioner", "PractitionerRole", "Organization", "Location", "Patient")


def identifier_index(paths: list[Path]) -> dict[str, str]:
    """``Type?identifier=system|value`` → ``Type/id`` for the resources of the given Bundles.

    Conditional references are resolved across all the Bundle files of a run (Synthea writes
    practitioners and organisations in their own Bundles). A file that does not parse is
    skipped here; the conversion reports it.
    """
    index: dict[str, str] = {}
    for path in paths:
        try:
            doc = orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            continue
        entries = doc.get("entry") if isinstance(doc, dict) else None
        for e in entries if isinstance(entries, list) else []:
            r = e.get("resource") if isinstance(e, dict) else None
            if not isinstance(r, dict) or r.get("resourceType") not in CONDITIONAL_TARGETS:
                continue
            idents = r.get("identifier")
            for ident in idents if isinstance(idents, list) else []:
                if isinstance(ident, dict) and ident.get("value") is not None:
                    key = (
                        f"{r['resourceType']}?identifier={ident.get('system', '')}|{ident['value']}"
                    )
                    index.setdefault(key, f"{r['resourceType']}/{r.get('id')}")
    return index


def _rewrite_refs(obj: Any, urls: dict[str, str]) -> Any:
    """Replace ``urn:uuid:`` and conditional references of Bundles by ``Type/id`` (Synthea)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str) and (v in urls or unquote(v) in urls):
                out[k] = urls.get(v) or urls[unquote(v)]
            else:
                out[k] = _rewrite_refs(v, urls)
        return out
    if isinstance(obj, list):
        return [_rewrite_refs(v, urls) for v in obj]
    return obj


def _kind(value: Any) -> str:
    """The JSON kind of a parsed value, as the quarantine reasons name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def _bundle_lines(
    path: Path, doc: dict[str, Any], known: dict[str, str]
) -> Iterator[tuple[bytes | None, str | None]]:
    """(NDJSON line, problem) per entry of a Bundle, in entry order."""
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        raise IngestError(f"{path}: Bundle.entry is {_kind(entries)}, not an array of entries")
    urls = dict(known)
    for e in entries:
        r = e.get("resource") if isinstance(e, dict) else None
        full = e.get("fullUrl") if isinstance(e, dict) else None
        if isinstance(r, dict) and isinstance(full, str) and full.startswith("urn:"):
            urls[full] = f"{r.get('resourceType')}/{r.get('id')}"
    for pos, e in enumerate(entries):
        if not isinstance(e, dict):
            yield None, f"Bundle.entry[{pos}]: not an entry object, got {_kind(e)}"
            continue
        r = e.get("resource")
        if r is None:  # an entry without a resource (a deletion in a history Bundle)
            yield None, None
        elif not isinstance(r, dict):
            yield None, f"Bundle.entry[{pos}].resource: not a resource, got {_kind(r)}"
        else:
            yield orjson.dumps(_rewrite_refs(r, urls)), None


def bundle_to_ndjson(path: Path, workdir: Workdir, known: dict[str, str] | None = None) -> Source:
    """A JSON file: a Bundle (any type) or a single resource, as NDJSON one entry per line.

    Line n of the NDJSON is entry n of the Bundle (an entry without a resource is an empty
    line; an entry that is not a resource is quarantined with its position), so source_line
    points at the entry. A file that is not JSON at all may still be NDJSON with a .json
    name; it is then read as such.
    """
    raw = _read_bytes(path)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Source(path=path, name=str(path), size=len(raw))
    src = Source(path=path, name=str(path), size=len(raw))
    fd, tmp = tempfile.mkstemp(suffix=".ndjson", dir=workdir())
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
                for n, (line, problem) in enumerate(_bundle_lines(path, doc, known or {}), 1):
                    if problem is not None:
                        src.problems.append((n, problem, None))
                    out.write((line or b"") + b"\n")
            else:
                out.write(orjson.dumps(doc) + b"\n")
    except RecursionError:
        raise IngestError(f"{path}: JSON nested too deeply to read") from None
    src.path = Path(tmp)
    return src


def first_type(path: Path, gz: bool, max_lines: int = 50) -> str | None:
    """The resourceType of the first readable line (the type most lines of a Bulk file have)."""
    opener: Any = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            for i, line in enumerate(fh):
                if i >= max_lines:
                    break
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("resourceType"), str):
                    return str(doc["resourceType"])
    except (OSError, EOFError, zlib.error):
        return None
    return None


def prepare(paths: list[Path], workdir: Workdir) -> list[Source]:
    """Every input as a readable Source (Bundles converted, gzip checked), in ingest order."""
    sources: list[Source] = []
    found = discover(paths)
    gzipped = {p for p, _ in found if is_gzip(p)}
    bundles = [p for p, _ in found if p not in gzipped and not _is_ndjson(p)]
    known = identifier_index(bundles) if bundles else {}
    for path, hint in found:
        size = path.stat().st_size
        if path in gzipped:
            readable, problem = check_gzip(path, workdir)
            src = Source(readable, str(path), size, gzip=readable == path, type_hint=hint)
            if problem is not None:
                src.problems.append((problem[0], problem[1], None))
        elif _is_ndjson(path):
            src = Source(path, str(path), size, type_hint=hint)
        else:
            src = bundle_to_ndjson(path, workdir, known)
            src.type_hint = hint
        if src.type_hint is None:
            src.type_hint = first_type(src.path, src.gzip)
        src.lines, lenient = scan(src.path, src.gzip)
        # The line path skips the lines already quarantined (Bundle entries that are not
        # resources); a gzip break is one more line after the salvaged ones.
        src.line_by_line = lenient or bool(src.problems)
        src.lines += sum(1 for line, _, _ in src.problems if line is None or line > src.lines)
        sources.append(src)
    return sources
