"""Serving snapshots (cmo.warehouse.snapshot) and the bounded wait for a held warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmo.errors import WarehouseLocked
from cmo.warehouse import connect, snapshot
from cmo.warehouse.options import open_warehouse


def _warehouse(path: Path, value: int) -> None:
    with connect(path) as wh:
        wh.sql(f"CREATE OR REPLACE TABLE t AS SELECT {value} AS x")
        snapshot.publish(wh, "test")


def _read(snap: snapshot.Snapshot) -> int:
    with connect(snap.path, read_only=True) as wh:
        return int(wh.sql("SELECT x FROM t").fetchone()[0])


def test_publish_copies_the_committed_warehouse_and_points_at_it(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    assert snapshot.current(path) is None
    _warehouse(path, 1)
    first = snapshot.current(path)
    assert first is not None and first.by == "test" and _read(first) == 1
    _warehouse(path, 2)
    second = snapshot.current(path)
    assert second is not None and second.path != first.path and _read(second) == 2
    assert first.path.exists(), "the previous snapshot stays for readers still on it"
    assert not list(snapshot.serving_dir(path).glob(".tmp-*")), "no temporary copy left"


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _warehouse(path, 1)
    first = snapshot.current(path)
    assert first is not None
    with connect(first.path, read_only=True) as reader:
        _warehouse(path, 2)  # the writer is never blocked by the reader
        assert int(reader.sql("SELECT x FROM t").fetchone()[0]) == 1
    assert _read(snapshot.current(path)) == 2  # type: ignore[arg-type]


def test_old_snapshots_go_after_the_grace_period(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    for value in range(4):
        _warehouse(path, value)
    folder = snapshot.serving_dir(path)
    snaps = sorted(folder.glob("snap-*.duckdb"))
    assert len(snaps) == 4  # all within the grace period
    past = time.time() - snapshot.GRACE_SECONDS - 60
    for s in snaps:
        os.utime(s, (past, past))
    removed = snapshot.prune(folder)
    assert removed == snaps[:2]
    left = sorted(folder.glob("snap-*.duckdb"))
    assert left == snaps[2:] and snapshot.current(path).path == snaps[-1]  # type: ignore[union-attr]


def test_spark_or_memory_warehouses_have_no_snapshot(tmp_path: Path) -> None:
    with connect(":memory:") as wh:
        assert snapshot.publish(wh, "test") is None


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the warehouse's write lock for ``seconds``."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(float(sys.argv[2]))",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_writer_waits_for_the_lock_then_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    holder = _hold(path, 1.5)
    try:
        t0 = time.monotonic()
        wh = open_warehouse(path, wait=30)
        wh.close()
        assert 0.5 < time.monotonic() - t0 < 30
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "waiting up to 30 s" in err and "release" in err


def test_a_writer_gives_up_after_the_bounded_wait(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    holder = _hold(path, 60)
    try:
        t0 = time.monotonic()
        with pytest.raises(WarehouseLocked, match="waited 1 s"):
            open_warehouse(path, wait=1)
        assert time.monotonic() - t0 < 10
    finally:
        holder.kill()
        holder.wait()


def test_cmo_ingest_publishes_a_snapshot(tmp_path: Path) -> None:
    """The CLI writers publish: after `cmo ingest` the web has a snapshot holding the rows."""
    import json

    export = tmp_path / "Patient.ndjson"
    export.write_text(json.dumps({"resourceType": "Patient", "id": "p1"}) + "\n")
    path = tmp_path / "w.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", "from cmo.cli import run; run()", "ingest", str(export)]
        + ["--warehouse", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    snap = snapshot.current(path)
    assert snap is not None and snap.by == "ingest"
    with connect(snap.path, read_only=True) as wh:
        assert wh.count("fhir__patient") == 1
