"""How fast this machine is today, so benchmark figures taken on different machines compare.

The same code measured 26-28 s on one 2-core host and 40-52 s on another (same commit, both
idle): a shared cloud host's speed varies by 1.5x from day to day. Every benchmark run
prints these two reference times first; docs/performance.md records them beside the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def reference() -> dict[str, float]:
    """Seconds for a fixed pure-Python loop and a fixed DuckDB query (best of three each)."""
    import duckdb

    def python_loop() -> None:
        total = 0
        for i in range(10_000_000):
            total += i

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")

    def duckdb_query() -> None:
        # Hashing and grouping strings: what the measures build spends its engine time on.
        con.execute(
            "SELECT count(DISTINCT ((i * 7919) % 1000003)::VARCHAR) FROM range(20000000) t(i)"
        ).fetchall()

    out = {"python_loop_s": _best(python_loop), "duckdb_query_s": _best(duckdb_query)}
    con.close()
    return out


def _best(work: Callable[[], None], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return round(min(times), 2)
