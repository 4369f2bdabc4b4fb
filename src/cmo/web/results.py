"""The web app's only door to the analytics results: ``cmo.measures.api``, read-only, cached.

The warehouse (``settings.WAREHOUSE``, a DuckDB file) is opened read-only for each cache miss
and closed straight after, so ``cmo measures run`` in another process can still take its write
lock. Results change only when the file changes: the cache key includes the file's mtime and
size, so a rebuild shows on the next request without a restart.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

MEASURE_TABLE = "quality__measure"
# Functions that answer before any measure build (the data status page after an ingest).
WITHOUT_MEASURES = frozenset({"data_status", "quarantine"})
_CACHE_SIZE = 512
_lock = threading.Lock()
_cache: OrderedDict[str, tuple[tuple[int, ...], Any]] = OrderedDict()
# After a failed open because a writer holds the lock, do not try again for a few seconds: the
# requests in between get the previous build's answers straight away.
BUSY_BACKOFF = 5.0
_busy_until: dict[str, float] = {}


class NoResults(Exception):  # noqa: N818 - reads better at the call site: except NoResults
    """The warehouse or its quality tables do not exist yet; ``hint`` says what to run."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class WarehouseBusy(NoResults):
    """Another process (``cmo measures run``) holds the warehouse's write lock."""


def warehouse_path() -> Path:
    from django.conf import settings

    return Path(settings.WAREHOUSE)


def _stamp(path: Path) -> tuple[int, ...]:
    parts: list[int] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            parts += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            parts += [0, 0]
    return tuple(parts)


def _open(path: Path) -> Any:
    from cmo.errors import WarehouseLocked
    from cmo.warehouse import connect

    # A writer (cmo measures run) holds DuckDB's file lock: wait a little, then give up and let
    # the caller serve the pages of the previous build.
    for attempt in range(8):
        try:
            return connect(path, read_only=True)
        except WarehouseLocked as exc:
            if attempt == 7:
                raise WarehouseBusy(
                    f"The warehouse {path} is being rebuilt.", "Try again in a minute."
                ) from exc
            time.sleep(0.25)
    raise AssertionError("unreachable")


def call(function: str, *args: Any, **kwargs: Any) -> Any:
    """``cmo.measures.api.<function>(wh, *args, **kwargs)``, cached until the warehouse changes.

    Raises NoResults when there is no warehouse file or no measure tables in it.
    """
    path = warehouse_path()
    if not path.exists():
        raise NoResults(
            f"No warehouse at {path}.",
            "Run `cmo demo` (demo data), or `cmo ingest PATH` then `cmo measures run`.",
        )
    key = json.dumps([str(path), function, args, kwargs], sort_keys=True, default=str)
    stamp = _stamp(path)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with _lock:  # one DuckDB reader at a time; the others wait for the cache to fill
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            if time.monotonic() < _busy_until.get(str(path), 0.0):
                raise WarehouseBusy(
                    f"The warehouse {path} is being rebuilt.", "Try again in a minute."
                )
            value = _compute(path, function, args, kwargs)
        except WarehouseBusy:
            _busy_until[str(path)] = max(
                _busy_until.get(str(path), 0.0), time.monotonic() + BUSY_BACKOFF
            )
            if hit is not None:  # a rebuild is running: the previous build's answer
                return hit[1]
            raise
        _cache[key] = (stamp, value)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return value


def derived(name: str, compute: Callable[[], Any], *parts: Any) -> Any:
    """``compute()`` (page data built from ``call`` results), cached like ``call`` until the
    warehouse changes; ``parts`` tell apart the variants (site, role flags, ...).

    Control charts and funnels are recomputed only after a rebuild, which keeps the dashboard
    and measure pages within their p95 budget under load (docs/performance.md, web).
    """
    path = warehouse_path()
    key = json.dumps([str(path), "derived", name, parts], sort_keys=True, default=str)
    stamp = _stamp(path)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        value = compute()  # not under the lock: compute() calls call(), which takes it
    except WarehouseBusy:
        if hit is not None:  # a rebuild is running: the previous build's page
            return hit[1]
        raise
    with _lock:
        _cache[key] = (stamp, value)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _compute(path: Path, function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from cmo.measures import api

    wh = _open(path)
    try:
        if function not in WITHOUT_MEASURES and not wh.exists(MEASURE_TABLE):
            raise NoResults(
                f"The warehouse {path} has no measure results yet.",
                "Run `cmo measures run` (or `cmo demo` for demo data).",
            )
        return getattr(api, function)(wh, *args, **kwargs)
    finally:
        wh.close()


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _busy_until.clear()


def warehouse_mtime() -> float | None:
    try:
        return os.stat(warehouse_path()).st_mtime
    except FileNotFoundError:
        return None
