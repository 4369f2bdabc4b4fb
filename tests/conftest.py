"""Fixtures shared by every test package: the reference cases, a DuckDB warehouse, a Spark one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# `cmo measures run` and `cmo demo` end with the sync, which writes the app database under
# CMO_DATA_DIR: tests never write into the working directory's cmo-data (the web tests set
# their own data dir).
os.environ.setdefault("CMO_DATA_DIR", tempfile.mkdtemp(prefix="cmo-test-data-"))

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # One local Spark session per worker costs ~1.5 GB and 20 s: keep every Spark test on the
    # same xdist worker (run with --dist loadgroup).
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference, or skip: a user's clone of the project has no ../shared."""
    if not REFERENCE.is_dir():
        pytest.skip(
            f"published reference cases not found at {REFERENCE} (only in the dev workspace)"
        )
    return REFERENCE


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator:
    """A fresh, real DuckDB warehouse file."""
    from cmo.warehouse import connect

    wh = connect(tmp_path / "warehouse.duckdb")
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real local Spark session behind the Ibis pyspark backend (shared by the Spark tests)."""
    pytest.importorskip("pyspark")
    from cmo.warehouse import connect

    wh = connect(tmp_path_factory.mktemp("spark") / "warehouse", engine="spark")
    yield wh
    wh.spark.stop()
