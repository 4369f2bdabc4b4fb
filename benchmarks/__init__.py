"""Benchmarks: `make bench` runs each module's ``run(quick)``; results in docs/performance.md."""
