"""One BLAS thread for numerical work that runs beside other threads.

OpenBLAS' worker threads spin while they wait: beside the engine's threads on a 2-core
machine they made a risk model's Hessian 60x slower and the CUSUM limits' LU factorisations
3x slower (docs/performance.md). ``threadpoolctl.threadpool_limits`` sets a process-wide
limit and restores what it found on exit, so two threads entering and leaving it out of turn
could leave the limit at 1 for good; :func:`one_blas_thread` counts its users and restores
the original limits when the last one leaves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_users = 0
_limiter: Any = None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (shared by concurrent blocks)."""
    global _users, _limiter
    from threadpoolctl import threadpool_limits

    with _lock:
        if _users == 0:
            _limiter = threadpool_limits(1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _limiter.restore_original_limits()
                _limiter = None
