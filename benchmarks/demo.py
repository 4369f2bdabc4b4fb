"""Benchmark of the demo generator: wall time and peak memory for 100k patients (issue 3).

Target: 100k patients in <= 120 s and <= 4 GB RSS on 2 cores. ``quick`` runs 20k patients.
Run: ``.venv/bin/python -m benchmarks.demo [--quick]`` (or via ``python -m benchmarks``).
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def _count_lines(path: Path) -> int:
    """Lines of a file read in 1 MiB blocks (keeps the benchmark's own memory flat)."""
    n = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
    return n


def run(quick: bool) -> dict:
    """Generate an export in a temporary folder and report time, memory and sizes."""
    from cmo.demo.generate import generate

    patients = 20_000 if quick else 100_000
    folder = Path(tempfile.mkdtemp(prefix="cmo-bench-demo-"))
    try:
        began = time.perf_counter()
        generate(
            folder, patients=patients, seed=42, start=date(2023, 1, 1), months=24, progress=False
        )
        seconds = time.perf_counter() - began
        files = sorted(folder.glob("*.ndjson"))
        size = sum(f.stat().st_size for f in files)
        resources = sum(_count_lines(f) for f in files)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "patients": patients,
        "seconds": round(seconds, 1),
        "resources": resources,
        "resources_per_second": round(resources / seconds),
        "output_mb": round(size / 2**20, 1),
        "parent_max_rss_mb": round(_max_rss_mb(resource.RUSAGE_SELF), 1),
        "worker_max_rss_mb": round(_max_rss_mb(resource.RUSAGE_CHILDREN), 1),
    }
    for key, value in result.items():
        print(f"demo {key}: {value}")
    return result


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
