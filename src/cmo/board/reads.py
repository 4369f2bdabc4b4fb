"""The board domain's doors to the analytics: ``cmo.measures.api``'s typed reads.

Outside a :func:`session` each read is a door (``cmo.web.warehouse.door``: the serving
snapshot, cached until the next build, like ``cmo.quality.reads``). A report reads some forty
tables' worth of rows; inside ``with session():`` every read shares one read-only connection
to the pinned serving snapshot instead of opening the file forty times (the CLI's report went
from 10 s to under 3 s of reads on a busy machine). Read only: the board never writes the
warehouse.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from cmo.measures import api
from cmo.web.warehouse import MEASURE_TABLE, NoResults, door, serving, warehouse_path

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

P = ParamSpec("P")
R = TypeVar("R")
_local = threading.local()


@contextmanager
def session() -> Iterator[None]:
    """Answer the reads of this block from one connection to the serving snapshot."""
    if getattr(_local, "wh", None) is not None:
        yield
        return
    from cmo.warehouse import connect

    wh = connect(serving().path, read_only=True)
    try:
        if not wh.exists(MEASURE_TABLE):
            raise NoResults(
                f"The warehouse {warehouse_path()} has no measure results yet.",
                "Run `cmo measures run` (or `cmo demo` for demo data).",
            )
        _local.wh = wh
        yield
    finally:
        _local.wh = None
        wh.close()


def _read(read: Callable[Concatenate[Warehouse, P], R]) -> Callable[P, R]:
    doored = door(read)

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        wh = getattr(_local, "wh", None)
        if wh is None:
            return doored(*args, **kwargs)
        return read(wh, *args, **kwargs)

    call.__doc__ = read.__doc__
    return call


list_measures = _read(api.list_measures)
results = _read(api.results)
periods = _read(api.periods)
chart = _read(api.chart)
model_card = _read(api.model_card)
practitioners_in = _read(api.practitioners_in)

__all__ = [
    "NoResults",
    "chart",
    "list_measures",
    "model_card",
    "periods",
    "practitioners_in",
    "results",
    "session",
]
