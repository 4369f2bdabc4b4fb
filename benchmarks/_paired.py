"""Benchmark: two checkouts' measures rebuilds, paired, on the same host at the same time.

A shared 2-core host drifts by +-10% over minutes, as much as a change being measured, so two
codes timed one after the other compare badly. Here each checkout keeps its own warehouse
open in a live process and the two rebuild in turn (A B, B A, A B, ...), one warm-up each;
the paired ratios (B over A, same minute) and the best runs are printed.

    python -m benchmarks._paired OLD_CHECKOUT NEW_CHECKOUT [--pairs 6] [--stays 1000000]
        [--measures CMI,IMORT,LACE,LOS,MORT30,READM30] [--dir /tmp/paired]

Each checkout's warehouse is synthesized by this checkout's ``benchmarks.measures.synthesize``
(seed 1: the same data for both) and first-built once by its own code, then copied and
rebuilt; ``--measures`` filters the registry
(the like-for-like comparison with an older code uses the measures both have).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _worker(code: str, base: str, run: str, stays: int, measures: str) -> None:
    """One checkout's side: build ``base`` if missing, then one rebuild of a copy per line read."""
    sys.path[:0] = [f"{code}/src", code]
    import cmo.measures.build as build
    import cmo.measures.spec as spec
    from cmo.warehouse import connect

    wanted = set(measures.split(",")) if measures else None
    everything = spec.registry

    def registry() -> dict[str, Any]:
        found = everything()
        return {k: v for k, v in found.items() if wanted is None or k in wanted}

    spec.registry = registry  # type: ignore[assignment]
    build.registry = registry  # type: ignore[attr-defined]
    if not Path(base).exists():
        from benchmarks.measures import synthesize

        wh = connect(base)
        synthesize(wh, stays)
        build.run(wh, progress=False)
        wh.close()
    for path in (run, f"{run}.wal"):
        Path(path).unlink(missing_ok=True)
    shutil.copy(base, run)
    wh = connect(run)
    print("ready", flush=True)
    for _line in sys.stdin:
        use = resource.getrusage(resource.RUSAGE_SELF)
        c0 = use.ru_utime + use.ru_stime
        t0 = time.perf_counter()
        result = build.run(wh, progress=False)
        use = resource.getrusage(resource.RUSAGE_SELF)
        row = {
            "wall": time.perf_counter() - t0,
            "cpu": use.ru_utime + use.ru_stime - c0,
            "steps": result.seconds,
        }
        print(json.dumps(row), flush=True)
    wh.close()


def compare(
    old: str, new: str, pairs: int, stays: int, measures: str, workdir: Path
) -> dict[str, Any]:
    """Run the two sides in turn; returns both sides' runs and the paired ratios."""
    workdir.mkdir(parents=True, exist_ok=True)
    procs = {}
    for tag, code in (("old", old), ("new", new)):
        args = [code, str(workdir / f"{tag}.duckdb"), str(workdir / f"run_{tag}.duckdb")]
        procs[tag] = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._paired", "--worker", *args, str(stays), measures],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # One at a time: two first builds side by side would take each other's cores.
        if procs[tag].stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"the {tag} side did not start")

    def rebuild(tag: str) -> dict[str, Any]:
        proc = procs[tag]
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        return json.loads(proc.stdout.readline())  # type: ignore[union-attr]

    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    rebuild("old"), rebuild("new")  # warm-up: imports, caches
    for i in range(pairs):
        for tag in ("old", "new") if i % 2 == 0 else ("new", "old"):
            row = rebuild(tag)
            runs[tag].append(row)
            steps = {k: round(v, 1) for k, v in row["steps"].items()}
            print(f"{tag} wall {row['wall']:.1f} s, cpu {row['cpu']:.1f} s {steps}", flush=True)
    for proc in procs.values():
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait()
    ratios = [n["wall"] / o["wall"] for o, n in zip(runs["old"], runs["new"], strict=True)]
    best = {tag: min(r["wall"] for r in rows) for tag, rows in runs.items()}
    summary = {
        "old_best_s": round(best["old"], 1),
        "new_best_s": round(best["new"], 1),
        "best_ratio": round(best["new"] / best["old"], 3),
        "paired_ratios": [round(r, 3) for r in ratios],
        "median_paired_ratio": round(statistics.median(ratios), 3),
    }
    for key, value in summary.items():
        print(f"paired {key}: {value}")
    return {"runs": runs, **summary}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        code, base, run, stays, measures = sys.argv[2:7]
        _worker(code, base, run, int(stays), measures)
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks._paired", description=__doc__)
    parser.add_argument("old", help="the checkout measured against (a git worktree)")
    parser.add_argument("new", help="the checkout being measured")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--stays", type=int, default=1_000_000)
    parser.add_argument("--measures", default="CMI,IMORT,LACE,LOS,MORT30,READM30")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cmo-paired"))
    args = parser.parse_args()
    compare(args.old, args.new, args.pairs, args.stays, args.measures, args.dir)


if __name__ == "__main__":
    main()
