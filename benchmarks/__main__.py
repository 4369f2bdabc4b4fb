"""Run the benchmarks: ``python -m benchmarks [NAME ...] [--quick]``.

Each module ``benchmarks/<domain>.py`` exposes ``run(quick: bool) -> dict`` and prints its own
figures; this runner times nothing itself, it only finds the modules and prints a summary.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
from pathlib import Path

from benchmarks._machine import reference

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check they work")
    args = parser.parse_args(argv)
    found = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))
    names = args.names or found
    unknown = set(names) - set(found)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(found)}")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, "
        f"Python {sys.version.split()[0]}"
    )
    speed = reference()
    print(f"machine speed (lower is faster): {speed}")
    results: dict[str, object] = {"machine_speed": speed}
    for name in names:
        print(f"== {name}")
        results[name] = importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
