"""Serving snapshots: the read-only copies of a DuckDB warehouse that the web app reads.

The web never opens the live warehouse file. After each successful ``cmo measures run`` and
``cmo ingest`` the writer, still holding the file's lock, checkpoints the database (so the file
alone holds every committed row), copies it under a temporary name next to the warehouse and
renames the copy into place; then it replaces a small pointer file (``current.json``) naming the
new snapshot and its build time. Both renames are atomic (``os.replace``), so a reader sees the
previous snapshot or the new one, never a half-copied file, and a rebuild never makes the web
wait or fail: readers keep answering from the snapshot they opened.

Layout, for a warehouse ``cmo-data/warehouse.duckdb``::

    cmo-data/warehouse.duckdb.serving/
        current.json                        {"file": "snap-…duckdb", "built_at": …, "by": …}
        snap-20261206T211502-3f2a.duckdb    the current snapshot
        snap-20261206T201130-9c0d.duckdb    the previous one (a reader may still use it)

Older snapshots are deleted by the next publish once they have been superseded for
``GRACE_SECONDS`` (a reader opens a snapshot per cache miss and closes it straight after; on
POSIX an open file stays readable after it is deleted anyway).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

POINTER = "current.json"
PREFIX = "snap-"
GRACE_SECONDS = 600.0  # a superseded snapshot is kept this long for readers still on it
STALE_TEMP_SECONDS = 3600.0  # a temporary copy this old was left by a killed publish


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot: its file, when it was published and by which command."""

    path: Path
    built_at: datetime
    by: str

    @property
    def name(self) -> str:
        return self.path.name


def serving_dir(warehouse: Path) -> Path:
    """The folder of ``warehouse``'s snapshots (beside it, so a copy is a same-disk copy)."""
    return warehouse.with_name(warehouse.name + ".serving")


def publish(wh: Warehouse, by: str, built_at: datetime | None = None) -> Snapshot | None:
    """Publish ``wh`` (open for writing, so this process holds its lock) as the new snapshot.

    ``by`` names the command (``measures run``, ``ingest``); ``built_at`` (UTC, default now:
    the writer publishes as it finishes) is the build time the pages show. Only DuckDB files
    have snapshots: a Spark warehouse (or an in-memory database) returns None.
    """
    if wh.engine != "duckdb" or wh.path is None or str(wh.path) == ":memory:":
        return None
    source = Path(wh.path)
    folder = serving_dir(source)
    folder.mkdir(parents=True, exist_ok=True)
    # Everything committed goes into the main file; the copy then needs no WAL.
    wh.sql("CHECKPOINT")
    now = datetime.now(UTC).replace(tzinfo=None)
    name = f"{PREFIX}{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}.duckdb"
    built = built_at or now
    temp = folder / f".tmp-{name}"
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, folder / name)
    finally:
        temp.unlink(missing_ok=True)
    _write_pointer(folder, {"file": name, "built_at": built.isoformat(), "by": by})
    prune(folder)
    return Snapshot(path=folder / name, built_at=built, by=by)


def _write_pointer(folder: Path, content: dict[str, str]) -> None:
    temp = folder / f".tmp-{uuid.uuid4().hex[:8]}-{POINTER}"
    temp.write_text(json.dumps(content))
    os.replace(temp, folder / POINTER)


def current(warehouse: Path) -> Snapshot | None:
    """The snapshot readers should open now, or None when none has been published."""
    folder = serving_dir(warehouse)
    try:
        content = json.loads((folder / POINTER).read_text())
        path = folder / str(content["file"])
        built_at = datetime.fromisoformat(str(content["built_at"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    if not path.exists():
        return None
    return Snapshot(path=path, built_at=built_at, by=str(content.get("by") or ""))


def prune(folder: Path, grace: float = GRACE_SECONDS) -> list[Path]:
    """Delete the snapshots superseded more than ``grace`` seconds ago; returns them.

    The current snapshot and the one before it are always kept. A snapshot was superseded
    when the next one was published (that one's modification time)."""
    live = current_name(folder)
    snaps = sorted(folder.glob(f"{PREFIX}*.duckdb"))
    now = time.time()
    removed = []
    for older, newer in zip(snaps[:-2], snaps[1:-1], strict=True):
        if older.name == live:
            continue
        if now - newer.stat().st_mtime > grace:
            older.unlink(missing_ok=True)
            removed.append(older)
    for temp in folder.glob(".tmp-*"):
        if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
            temp.unlink(missing_ok=True)
    return removed


def current_name(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / POINTER).read_text())["file"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


__all__ = ["GRACE_SECONDS", "Snapshot", "current", "prune", "publish", "serving_dir"]
