"""Finding the input files of an ingest: Bulk Data folders, NDJSON files, FHIR Bundles.

Order matters (on a ``meta.lastUpdated`` tie the later file wins): paths in the order given,
the files of a folder sorted by name, the files of a manifest in the manifest's order.
Files and folders whose names start with ``_`` or ``.`` are skipped in folder scans (exporters
keep metadata there, e.g. clinosim's ``_generator_metadata.json``).
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")


class IngestError(Exception):
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
    problem: tuple[int | None, str] | None = None  # (line, reason): quarantine the file itself
    lines: int = -1  # number of lines (a last line without newline counts)


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
        doc = orjson.loads(manifest.read_bytes())
        outputs = doc.get("output", [])
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise IngestError(f"{manifest}: not a Bulk Data manifest ({exc})") from None
    for out in outputs:
        url = urlparse(str(out.get("url", "")))
        # A relative url is a path next to the manifest; an absolute one (the server's
        # download link) is looked up by its file name in the manifest's folder.
        relative = manifest.parent / url.path if not url.scheme else None
        local = (
            relative if relative and relative.is_file() else manifest.parent / Path(url.path).name
        )
        if not local.is_file():
            raise IngestError(f"{manifest}: listed file {Path(url.path).name} does not exist")
        yield local, out.get("type")


def discover(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """Expand the command-line paths into (file, resource type hint) in ingest order."""
    found: list[tuple[Path, str | None]] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise IngestError(f"no such file or folder: {p}")
        if p.is_dir():
            found.extend(_scan_dir(p))
        elif p.name == "manifest.json":
            found.extend(_from_manifest(p))
        else:
            found.append((p, None))
    seen: set[Path] = set()
    unique = []
    for f, hint in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((f, hint))
    return unique


def count_lines(path: Path, gz: bool = False) -> int:
    """Lines in a file, a last line without a newline included (read at disk speed)."""
    opener: Any = gzip.open if gz else open
    n, last = 0, b"\n"
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


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
        for e in entries or []:
            r = e.get("resource") if isinstance(e, dict) else None
            if not isinstance(r, dict) or r.get("resourceType") not in CONDITIONAL_TARGETS:
                continue
            for ident in r.get("identifier") or []:
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


def bundle_to_ndjson(path: Path, workdir: Workdir, known: dict[str, str] | None = None) -> Source:
    """A JSON file: a Bundle (any type) or a single resource, as NDJSON one entry per line.

    Line n of the NDJSON is entry n of the Bundle (an entry without a resource is an empty
    line), so source_line points at the entry. A file that is not JSON at all may still be
    NDJSON with a .json name; it is then read as such.
    """
    raw = path.read_bytes()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Source(path=path, name=str(path), size=len(raw))
    fd, tmp = tempfile.mkstemp(suffix=".ndjson", dir=workdir())
    with os.fdopen(fd, "wb") as out:
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            entries = doc.get("entry") or []
            urls = dict(known or {})
            for e in entries:
                r = e.get("resource") if isinstance(e, dict) else None
                full = e.get("fullUrl") if isinstance(e, dict) else None
                if isinstance(r, dict) and isinstance(full, str) and full.startswith("urn:"):
                    urls[full] = f"{r.get('resourceType')}/{r.get('id')}"
            for e in entries:
                r = e.get("resource") if isinstance(e, dict) else None
                if r is not None:
                    out.write(orjson.dumps(_rewrite_refs(r, urls)))
                out.write(b"\n")
        else:
            out.write(orjson.dumps(doc) + b"\n")
    return Source(path=Path(tmp), name=str(path), size=len(raw))


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
    bundles = [p for p, _ in found if not p.name.endswith(".gz") and not _is_ndjson(p)]
    known = identifier_index(bundles) if bundles else {}
    for path, hint in found:
        size = path.stat().st_size
        if path.name.endswith(".gz"):
            readable, problem = check_gzip(path, workdir)
            gz = readable == path
            src = Source(readable, str(path), size, gzip=gz, type_hint=hint, problem=problem)
        elif _is_ndjson(path):
            src = Source(path, str(path), size, type_hint=hint)
        else:
            src = bundle_to_ndjson(path, workdir, known)
            src.type_hint = hint
        if src.type_hint is None:
            src.type_hint = first_type(src.path, src.gzip)
        src.lines = count_lines(src.path, src.gzip)
        sources.append(src)
    return sources
