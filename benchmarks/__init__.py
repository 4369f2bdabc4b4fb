"""Benchmarks: `make bench` runs every module's ``run(quick)``; results go to docs/performance.md."""
