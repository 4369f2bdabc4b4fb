"""The sync step that ``cmo measures run`` and ``cmo demo`` run after a build.

Two directions, one step:

1. warehouse -> app database: each reader below turns warehouse tables into plain rows (the
   directory's sites, departments, units, practitioners, memberships); the web side applies
   them to its tables (``Domain.sync`` of the domain with the same name);
2. app database -> warehouse: every model a domain lists in ``Domain.exports`` is copied whole
   into a warehouse table ``app__<app>_<model>`` (``cmo.web.export``), written atomically by
   :meth:`cmo.warehouse.Warehouse.write`.

The web half runs in a child process (``python -m cmo.web.sync``) that loads Django; this
process, and the analytics packages it imports, never do. Rows travel as JSON to the child and
the exported tables come back as Arrow IPC files, so the child never opens the warehouse (one
writer, any engine). Without the ``web`` extra (no Django) the step is skipped with a note.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmo.errors import CmoError

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

# domain name -> "module:function" of ``f(warehouse) -> dataclass of row lists`` (no Django).
READERS: dict[str, str] = {
    "directory": "cmo.measures.directory:read",
    "safety": "cmo.measures.safety:read",  # the EHR's AdverseEvents for the triage queue
}


@dataclass
class SyncResult:
    messages: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # app__ table -> rows written


def encode(value: Any) -> Any:
    """JSON for rows with dates: ``{"$date": "2024-01-31"}``."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot send {type(value).__name__} to the sync")


def decode(obj: dict[str, Any]) -> Any:
    if obj.keys() == {"$date"}:
        return date.fromisoformat(obj["$date"])
    if obj.keys() == {"$datetime"}:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def resolve(ref: str) -> Any:
    """``"pkg.module:attr"`` -> the attribute, ``"pkg.module"`` -> the module (imported on first
    use). Here, not in ``cmo.web.registry``, so this process can use it without Django."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def run(wh: Warehouse, echo: Callable[[str], None] = print) -> SyncResult | None:
    """Sync the app database with ``wh`` and export app tables into it (None if skipped)."""
    if importlib.util.find_spec("django") is None:
        echo("sync skipped: the web extra (Django) is not installed")
        return None
    payload = {name: asdict(resolve(ref)(wh)) for name, ref in READERS.items()}
    with tempfile.TemporaryDirectory(prefix="cmo-sync-") as tmp:
        out = Path(tmp)
        (out / "rows.json").write_text(json.dumps(payload, default=encode))
        result = SyncResult(messages=_child("cmo.web.sync", out, "sync"))
        for path in sorted(out.glob("app__*.arrow")):
            result.tables[path.stem] = _write(wh, path)
    for line in result.messages:
        echo(line)
    if result.tables:
        echo(f"exported {len(result.tables)} app tables: " + ", ".join(sorted(result.tables)))
    return result


def seed_demo(warehouse: Path, echo: Callable[[str], None] = print) -> bool:
    """Seed every domain's demo data (``python -m cmo.web.seed``); False if skipped.

    The warehouse must be closed by this process: the seeds open it read-only.
    """
    if importlib.util.find_spec("django") is None:
        echo("demo seeding skipped: the web extra (Django) is not installed")
        return False
    for line in _child("cmo.web.seed", warehouse, "demo seeding"):
        echo(line)
    return True


def _child(module: str, path: Path, what: str) -> list[str]:
    """Run ``python -m module path`` (the web half, which loads Django); its output lines, or a
    CmoError with its last line (and the lines before it as the hint)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise CmoError(f"{what} failed: {lines[-1]}", "\n".join(lines[-8:-1]) or None)
    return proc.stdout.strip().splitlines()


def _write(wh: Warehouse, path: Path) -> int:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    wh.write(path.stem, table)
    return int(table.num_rows)
