"""Settings, read once from the environment, with one default each.

Every part of cmo (the CLI, the analytics, the web app, the tests) asks :func:`settings` for
where things are; nobody else reads these environment variables. Importing this module, or
calling :func:`settings`, writes nothing to disk: folders are made by the code that writes
into them.

| variable | default | what |
|---|---|---|
| ``CMO_DATA_DIR`` | ``./cmo-data`` | the app's folder: SQLite database, secret key, static files |
| ``CMO_WAREHOUSE`` | ``<data dir>/warehouse.duckdb`` | the analytics warehouse |
| ``CMO_DATABASE_URL`` | SQLite ``<data dir>/cmo.sqlite3`` | the web app's database |
| ``CMO_ENGINE`` | ``duckdb`` | the analytics engine: ``duckdb`` or ``spark`` |
| ``CMO_INGEST_MEMORY`` | ``2GB`` | DuckDB memory limit while ingesting (spills to disk above it) |
| ``CMO_LOCK_WAIT`` | ``300`` | seconds a writer waits for another process to release the file |
| ``CMO_NHSN_BASELINE`` | ``internal`` | CLABSI/CAUTI baseline (docs/measures/NHSN.md) |

The Spark warehouse defaults to ``<data dir>/spark-warehouse``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from cmo.errors import ConfigError

ENGINES: tuple[str, ...] = ("duckdb", "spark")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    database_url: str
    engine: str
    ingest_memory: str
    lock_wait: float
    nhsn_baseline: str = "internal"  # CMO_NHSN_BASELINE (cmo.measures.library.nhsn)

    def warehouse_for(self, engine: str) -> Path:
        """The warehouse path for ``engine``: the set one, or that engine's default."""
        if os.environ.get("CMO_WAREHOUSE") or engine == self.engine:
            return self.warehouse
        return default_warehouse(self.data_dir, engine)

    def with_warehouse(self, path: Path) -> Settings:
        return replace(self, warehouse=Path(path))


def default_warehouse(data_dir: Path, engine: str) -> Path:
    return data_dir / ("warehouse.duckdb" if engine == "duckdb" else "spark-warehouse")


def memory_limit(value: str) -> str:
    """Check a memory size such as ``2GB`` or ``512 MiB``; returns it as DuckDB reads it."""
    m = _MEMORY.match(value)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(
            f"CMO_INGEST_MEMORY={value!r} is not a memory size",
            "use a number and a unit, e.g. 2GB or 512MB",
        )
    return f"{m.group(1)}{m.group(2).upper()}"


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise ConfigError(f"{name}={value!r} is not a number of seconds", "use e.g. 300")
    return seconds


def _read() -> Settings:
    env = os.environ
    data_dir = Path(env.get("CMO_DATA_DIR") or "cmo-data").resolve()
    engine = env.get("CMO_ENGINE") or "duckdb"
    if engine not in ENGINES:
        raise ConfigError(
            f"CMO_ENGINE={engine!r} is not an engine", f"use one of: {', '.join(ENGINES)}"
        )
    warehouse = Path(env.get("CMO_WAREHOUSE") or default_warehouse(data_dir, engine))
    database_url = env.get("CMO_DATABASE_URL") or f"sqlite:///{data_dir / 'cmo.sqlite3'}"
    return Settings(
        data_dir=data_dir,
        warehouse=warehouse,
        database_url=database_url,
        engine=engine,
        ingest_memory=memory_limit(env.get("CMO_INGEST_MEMORY") or "2GB"),
        lock_wait=_seconds("CMO_LOCK_WAIT", env.get("CMO_LOCK_WAIT") or "300"),
        nhsn_baseline=env.get("CMO_NHSN_BASELINE") or "internal",
    )


@cache
def settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return _read()


def reload() -> Settings:
    """Read the environment again (tests and ``cmo serve --warehouse`` change it)."""
    settings.cache_clear()
    return settings()


__all__ = ["ENGINES", "Settings", "default_warehouse", "memory_limit", "reload", "settings"]
