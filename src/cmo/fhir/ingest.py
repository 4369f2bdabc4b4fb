"""``cmo ingest``: FHIR R4 Bulk Data (NDJSON, gzip, Bundles) into typed ``fhir__*`` tables.

Standards: FHIR R4 4.0.1 (https://hl7.org/fhir/R4/) and the FHIR Bulk Data Access IG 2.0.0
(https://hl7.org/fhir/uv/bulkdata/) for the export layout (manifest.json, one resource per
NDJSON line). The rules (quarantine, merge by id, dates) are in docs/data-model.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmo.errors import CmoError, WarehouseError
from cmo.fhir.sources import IngestError, Source, prepare

if TYPE_CHECKING:
    from cmo.fhir.duck import Counts
    from cmo.warehouse import Warehouse

__all__ = ["IngestError", "IngestMemoryError", "IngestResult", "ingest"]


class IngestMemoryError(CmoError):
    """DuckDB could not stay within CMO_INGEST_MEMORY (and could not spill): nothing written."""


@dataclass
class IngestResult:
    """What one run did. ``rows``: rows written per table in this run (new or updated)."""

    run_id: str
    files: int
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    other_types: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resources: int = 0  # lines read as a resource (loaded, superseded or of another type)
    counts: Counts | None = None  # where every input line went


@contextmanager
def _progress(sources: list[Source], enabled: bool) -> Iterator[Callable[[Source], None]]:
    """A Rich bar over the input bytes when enabled; a no-op otherwise."""
    if not enabled:
        yield lambda src: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    total = sum(s.size for s in sources)
    with Progress(
        TextColumn("ingest {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)

        def advance(src: Source) -> None:
            bar.update(task, advance=src.size, description=Path(src.name).name)

        yield advance


def _record_run(wh: Warehouse, result: IngestResult, started: datetime, names: list[str]) -> list:
    finished = datetime.now(UTC).replace(tzinfo=None)
    return [
        result.run_id,
        started,
        finished,
        wh.engine,
        result.files,
        json.dumps(names),
        json.dumps(result.rows, sort_keys=True),
        result.quarantined,
        json.dumps(result.other_types, sort_keys=True),
        result.seconds,
    ]


def ingest(paths: list[Path], wh: Warehouse, *, progress: bool | None = None) -> IngestResult:
    """Ingest FHIR files and folders into the warehouse; one run, all or nothing.

    On return every input line is loaded, superseded, of another type, blank or quarantined
    with its file and line number, and ``result.counts`` adds up to the input's lines.
    Raises a CmoError (one line, for the CLI) with the warehouse unchanged otherwise: an input
    path missing or unreadable, a malformed manifest or Bundle, no line readable as a FHIR
    resource, a warehouse that fails :meth:`Warehouse.verify`, or memory that ran out.
    """
    t0 = time.perf_counter()
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = uuid.uuid4().hex
    if progress is None:
        progress = sys.stdout.isatty()
    wh.verify()  # writable, checksums hold: said before any work, nothing written
    with ExitStack() as stack:
        scratch: list[Path] = []

        def workdir() -> Path:
            # Only Bundles and broken gzip files need one; NDJSON is read where it lies.
            if not scratch:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cmo-ingest-"))
                scratch.append(Path(tmp))
            return scratch[0]

        sources = prepare([Path(p) for p in paths], workdir)
        if not sources:
            raise IngestError("no FHIR files found in " + ", ".join(str(p) for p in paths))
        result = IngestResult(run_id=run_id, files=len(sources))
        names = [s.name for s in sources]
        with _progress(sources, progress) as advance:
            if wh.engine == "duckdb":
                _ingest_duckdb(wh, sources, result, started, names, advance, t0)
            else:
                from cmo.fhir.spark import run_spark

                run_spark(wh, sources, result, advance, workdir)
                result.seconds = time.perf_counter() - t0
                run_spark_log(wh, _record_run(wh, result, started, names))
    if result.resources == 0:
        raise IngestError(
            f"no readable FHIR resource in the input ({result.quarantined} line(s) quarantined; "
            "see fhir__quarantine)"
        )
    return result


def _ingest_duckdb(
    wh: Warehouse,
    sources: list[Source],
    result: IngestResult,
    started: datetime,
    names: list[str],
    advance: Callable[[Source], None],
    t0: float,
) -> None:

    import duckdb

    from cmo.config import settings

    limit = settings().ingest_memory  # a ConfigError for a value that is not a size
    raw = wh.con.con
    # DuckDB's own progress bar would print over ours; a memory limit makes the staging
    # tables spill to disk so memory stays flat in the input size. Both are put back after.
    saved = raw.execute(
        "SELECT current_setting('memory_limit'), current_setting('enable_progress_bar')"
    ).fetchone()
    raw.execute("SET enable_progress_bar = false")
    raw.execute(f"SET memory_limit = '{limit}'")
    try:
        _stage_and_merge(wh, raw, sources, result, started, names, advance, t0)
    except duckdb.OutOfMemoryException as exc:
        raise IngestMemoryError(
            f"the ingest needed more than CMO_INGEST_MEMORY={limit} and could not spill to "
            f"disk ({str(exc).splitlines()[0][:200]}); nothing was written",
            "raise CMO_INGEST_MEMORY (e.g. 2GB) or free disk space for DuckDB's temporary files",
        ) from None
    except duckdb.IOException as exc:  # e.g. the disk filled up while spilling
        raise WarehouseError(
            f"the ingest could not write: {str(exc).splitlines()[0][:200]}; nothing was written"
        ) from None
    finally:
        raw.execute(f"SET memory_limit = '{saved[0]}'")
        raw.execute(f"SET enable_progress_bar = {bool(saved[1])}")


def _stage_and_merge(
    wh: Warehouse,
    raw: Any,
    sources: list[Source],
    result: IngestResult,
    started: datetime,
    names: list[str],
    advance: Callable[[Source], None],
    t0: float,
) -> None:
    from cmo.fhir.duck import QUARANTINE, RUN_LOG, ensure_tables, stage_files

    run = stage_files(raw, sources, result.run_id, advance)
    try:
        with wh.transaction() as con:
            ensure_tables(con)
            counts = run.merge(con)
            counts.check()  # inside the transaction: a mismatch rolls the run back
            if counts.loaded + counts.superseded + counts.other == 0:
                first = con.execute(
                    f"SELECT file, line, reason FROM {QUARANTINE} WHERE run_id = ? "
                    "ORDER BY file, line LIMIT 1",
                    [result.run_id],
                ).fetchone()
                example = f", e.g. {first[0]}:{first[1]}: {first[2]}" if first else ""
                raise IngestError(  # rolls back: the warehouse stays as it was
                    f"no readable FHIR resource in the input ({counts.quarantined} line(s) "
                    f"unreadable{example}); nothing was written"
                )
            result.rows, result.quarantined, result.counts = counts.rows, counts.quarantined, counts
            result.other_types = run.other_types
            result.resources = counts.loaded + counts.superseded + counts.other
            result.seconds = time.perf_counter() - t0
            row = _record_run(wh, result, started, names)
            con.execute(f"INSERT INTO {RUN_LOG} VALUES ({', '.join('?' * len(row))})", row)
    finally:
        run.drop_staging()


def run_spark_log(wh: Warehouse, row: list[Any]) -> None:
    from cmo.fhir.spark import append_run_log

    append_run_log(wh, row)
