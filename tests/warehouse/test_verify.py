"""Warehouse.verify(): a damaged, read-only or foreign warehouse is said in one line before any
write, by `cmo ingest` and `cmo measures run` alike; a healthy one passes, also when a free
block of the file holds junk."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cmo.errors import WarehouseCorrupt, WarehouseReadOnly
from cmo.warehouse import connect
from cmo.warehouse.connection import damaged_blocks

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "tests" / "fixtures" / "fhir" / "edge"
BLOCK, HEADERS = 262144, 3 * 4096


def _build(path: Path, tables: tuple[str, ...] = ("fhir__encounter",)) -> None:
    """A warehouse with tables of a few MB each (random values: they do not compress away)."""
    with connect(path) as wh:
        for t in tables:
            wh.sql(f"CREATE TABLE {t} AS SELECT range AS id, random() AS r, "
                   f"md5(range::VARCHAR) AS s FROM range(300000)")  # fmt: skip
        wh.sql("CHECKPOINT")


def _blocks_of(path: Path, table: str) -> list[int]:
    with connect(path) as wh:
        ids = wh.sql(f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') "
                     "WHERE block_id >= 0").fetchall()  # fmt: skip
    return sorted(i for (i,) in ids)


def _scribble(path: Path, offset: int, seed: int = 20) -> None:
    """64 KB of random bytes written into the file at ``offset``."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(random.Random(seed).randbytes(65536))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cmo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from cmo.cli import run; run()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip


def test_a_healthy_warehouse_passes(tmp_path: Path) -> None:
    wh_path = tmp_path / "w.duckdb"
    _build(wh_path)
    assert damaged_blocks(wh_path) == []
    with connect(wh_path) as wh:
        wh.verify()


def test_random_bytes_in_a_table_block_are_found_before_a_write(tmp_path: Path) -> None:
    wh_path = tmp_path / "w.duckdb"
    _build(wh_path)
    block = _blocks_of(wh_path, "fhir__encounter")[3]
    _scribble(wh_path, HEADERS + block * BLOCK + 1000)
    assert damaged_blocks(wh_path) == [HEADERS + block * BLOCK]
    with connect(wh_path) as wh, pytest.raises(WarehouseCorrupt, match="is damaged"):
        wh.verify()
    before = _digest(wh_path)
    for args in (["ingest", str(EDGE)], ["measures", "run"]):
        out = _cmo(*args, "--warehouse", str(wh_path), cwd=tmp_path)
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
        first = out.stderr.splitlines()[0]
        assert first.startswith("cmo: error: the warehouse") and "is damaged" in first, first
    assert _digest(wh_path) == before  # nothing written


def test_junk_in_a_free_block_is_not_damage(tmp_path: Path) -> None:
    """A block freed by a dropped table keeps whatever it holds; DuckDB never reads it."""
    wh_path = tmp_path / "w.duckdb"
    _build(wh_path, ("fhir__old", "fhir__encounter"))
    freed = _blocks_of(wh_path, "fhir__old")
    with connect(wh_path) as wh:
        wh.sql("DROP TABLE fhir__old")
        wh.sql("CHECKPOINT")
    assert freed[1] * BLOCK + HEADERS < wh_path.stat().st_size
    _scribble(wh_path, HEADERS + freed[1] * BLOCK + 8)
    assert damaged_blocks(wh_path)  # the fast check sees it ...
    with connect(wh_path) as wh:
        wh.verify()  # ... and DuckDB, reading every table, finds nothing wrong
        assert wh.count("fhir__encounter") == 300000


def test_a_read_only_warehouse_is_said(tmp_path: Path) -> None:
    wh_path = tmp_path / "w.duckdb"
    _build(wh_path)
    with (
        connect(wh_path, read_only=True) as wh,
        pytest.raises(WarehouseReadOnly, match="read-only"),
    ):
        wh.verify()


def test_a_warehouse_file_without_write_permission(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes any file; this case runs only as an unprivileged user")
    wh_path = tmp_path / "w.duckdb"
    _build(wh_path)
    wh_path.chmod(0o444)
    out = _cmo("ingest", str(EDGE), "--warehouse", str(wh_path), cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("cmo: error: ") and "permission denied" in out.stderr
