"""The web's read side of the warehouse: serving snapshots, cached typed doors, "data as of".

The web never opens the live warehouse file (``settings.WAREHOUSE``): it reads the current
serving snapshot that ``cmo measures run`` / ``cmo ingest`` publish (``cmo.warehouse.snapshot``)
and opens it read-only for each cache miss. A rebuild publishes a new snapshot with an atomic
rename; a request keeps the snapshot it started with (it is pinned on the request's first read),
so a page is built from one build, never a mix, and no request waits for a writer.

:func:`door` turns a read function ``f(wh, *args, **kwargs)`` of an analytics read API into a
cached ``f(*args, **kwargs)`` with the same typed signature (domains declare their doors, e.g.
``cmo.quality.reads``); :func:`derived` caches page data computed from door results. Both are
keyed by the snapshot, so a new build shows on the next request without a restart. This module
imports no domain.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from cmo.warehouse import snapshot

if TYPE_CHECKING:
    from django.http import HttpRequest

    from cmo.warehouse import Warehouse

P = ParamSpec("P")
R = TypeVar("R")
MEASURE_TABLE = "quality__measure"
_CACHE_SIZE = 512
_lock = threading.Lock()
_cache: OrderedDict[str, tuple[str, Any]] = OrderedDict()
_pin = threading.local()  # the snapshot of the request this thread is serving


class NoResults(Exception):  # noqa: N818 - reads better at the call site: except NoResults
    """No snapshot (or no measure tables in it) yet; ``hint`` says what to run."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def warehouse_path() -> Path:
    from django.conf import settings

    return Path(settings.WAREHOUSE)


def serving() -> snapshot.Snapshot:
    """The snapshot this request reads: pinned at its first read, so every read of one page
    comes from the same build. Raises NoResults before anything was published."""
    pinned: snapshot.Snapshot | None = getattr(_pin, "snapshot", None)
    if pinned is not None:
        return pinned
    path = warehouse_path()
    current = _current(path)
    if current is None:
        if not path.exists():
            raise NoResults(
                f"No warehouse at {path}.",
                "Run `cmo demo` (demo data), or `cmo ingest PATH` then `cmo measures run`.",
            )
        raise NoResults(
            f"No serving snapshot of the warehouse {path} yet.",
            "Run `cmo measures run` (it publishes one), or restart `cmo serve`.",
        )
    _pin.snapshot = current
    return current


_pointers: dict[Path, tuple[tuple[int, int, int], snapshot.Snapshot]] = {}


def _current(path: Path) -> snapshot.Snapshot | None:
    """``snapshot.current(path)``, re-read only when the pointer file was replaced (one stat a
    request instead of reading and parsing it: ~0.3 ms of a 4 ms cached page)."""
    try:
        st = os.stat(snapshot.serving_dir(path) / snapshot.POINTER)
    except FileNotFoundError:
        return None
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    known = _pointers.get(path)
    if known is not None and known[0] == key:
        return known[1]
    current = snapshot.current(path)
    if current is not None:
        _pointers[path] = (key, current)
    return current


def unpin(**_: Any) -> None:
    """Forget the pinned snapshot (at the start of each request: Django's request_started)."""
    _pin.snapshot = None


def _remember(key: str, stamp: str, value: Any) -> None:
    _cache[key] = (stamp, value)
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)


def door(
    read: Callable[Concatenate[Warehouse, P], R], *, needs: str | None = MEASURE_TABLE
) -> Callable[P, R]:
    """``read`` without its warehouse argument, answered from the serving snapshot and cached
    until the next one. ``needs``: a table without which there is nothing to show (NoResults
    with a hint); None for reads that answer before any build (data status)."""
    name = f"{read.__module__}.{read.__qualname__}"

    @functools.wraps(read)
    def cached(*args: P.args, **kwargs: P.kwargs) -> R:
        snap = serving()
        key = json.dumps([name, args, kwargs], sort_keys=True, default=str)
        hit = _cache.get(key)
        if hit is not None and hit[0] == snap.name:
            return hit[1]  # type: ignore[no-any-return]
        with _lock:  # one DuckDB reader at a time; the others wait for the cache to fill
            hit = _cache.get(key)
            if hit is not None and hit[0] == snap.name:
                return hit[1]  # type: ignore[no-any-return]
            value = _read(snap, read, needs, args, kwargs)
            _remember(key, snap.name, value)
            return value

    return cached


def _read(
    snap: snapshot.Snapshot,
    read: Callable[..., R],
    needs: str | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> R:
    from cmo.warehouse import connect

    wh = connect(snap.path, read_only=True)
    try:
        if needs is not None and not wh.exists(needs):
            raise NoResults(
                f"The warehouse {warehouse_path()} has no measure results yet.",
                "Run `cmo measures run` (or `cmo demo` for demo data).",
            )
        return read(wh, *args, **kwargs)
    finally:
        wh.close()


def derived(name: str, compute: Callable[[], R], *parts: Any) -> R:
    """``compute()`` (page data built from door results), cached like a door until the next
    snapshot; ``parts`` tell apart the variants (site, role flags, ...). The page bodies are
    rendered once per build, which keeps the pages within their p95 budget under load."""
    snap = serving()
    key = json.dumps(["derived", name, parts], sort_keys=True, default=str)
    hit = _cache.get(key)
    if hit is not None and hit[0] == snap.name:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()  # not under the lock: compute() calls doors, which take it
    with _lock:
        _remember(key, snap.name, value)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()
    unpin()


def data_as_of(request: HttpRequest) -> dict[str, Any]:
    """Context processor: when the build the pages show was published ("data as of …")."""
    try:
        snap = serving()
    except NoResults:
        return {"data_as_of": None}
    return {"data_as_of": snap.built_at}


def _connect_signals() -> None:
    from django.core.signals import request_started

    request_started.connect(unpin, dispatch_uid="cmo.web.warehouse.unpin")


_connect_signals()
