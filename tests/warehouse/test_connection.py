"""The warehouse factory: naming, atomic replace/append, a failed write keeping the old table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from cmo.warehouse import connect


def test_replace_and_append(warehouse) -> None:
    warehouse.write("fhir__x", pa.table({"a": [1, 2]}))
    warehouse.write("fhir__x", pa.table({"a": [3]}), mode="append")
    assert sorted(warehouse.table("fhir__x").to_pyarrow()["a"].to_pylist()) == [1, 2, 3]
    warehouse.write("fhir__x", pa.table({"a": [9]}))
    assert warehouse.table("fhir__x").to_pyarrow()["a"].to_pylist() == [9]
    assert warehouse.list_tables() == ["fhir__x"]
    assert warehouse.list_tables("core") == []


def test_failed_write_keeps_previous_table(warehouse) -> None:
    warehouse.write("core__t", pa.table({"a": [1, 2]}))
    t = warehouse.table("core__t")
    bad = t.mutate(c=(t.a.cast("string") + "x").cast("int64"))  # "1x" fails when executed
    with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error
        warehouse.write("core__t", bad)
    assert warehouse.table("core__t").to_pyarrow()["a"].to_pylist() == [1, 2]
    assert warehouse.list_tables() == ["core__t"]


def test_write_in_parts_is_one_table_or_nothing(warehouse) -> None:
    warehouse.write("core__src", pa.table({"a": [1, 2, 3]}))
    src = warehouse.table("core__src")
    parts = [src.filter(src.a == v) for v in (1, 2, 3)]
    warehouse.write("core__t", parts[0], more=parts[1:])
    assert sorted(warehouse.table("core__t").to_pyarrow()["a"].to_pylist()) == [1, 2, 3]
    # A failing later part: the table keeps its previous rows, no staging table is left.
    bad = src.mutate(a=(src.a.cast("string") + "x").cast("int64"))
    with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error
        warehouse.write("core__t", parts[0], more=[bad])
    assert sorted(warehouse.table("core__t").to_pyarrow()["a"].to_pylist()) == [1, 2, 3]
    assert warehouse.list_tables() == ["core__src", "core__t"]


def test_parts_keep_names_and_memtables(warehouse) -> None:
    """Several parts: in-memory tables are registered, columns go by name whatever their
    order, and a failing middle part leaves the old table."""
    import ibis

    warehouse.write("core__src", pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    src = warehouse.table("core__src")
    mem = ibis.memtable(pa.table({"b": ["m"], "a": [9]}))  # other column order
    parts = [src.filter(src.a == 1), mem, src.filter(src.a > 1).select("b", "a")]
    warehouse.write("core__t", parts[0], more=parts[1:])
    rows = warehouse.table("core__t").order_by("a").to_pyarrow().to_pylist()
    assert rows == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "z"}, {"a": 9, "b": "m"}]
    bad = src.mutate(a=(src.a.cast("string") + "x").cast("int64"))
    with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error
        warehouse.write("core__t", parts[0], more=[mem, bad, parts[2]])
    assert warehouse.table("core__t").count().execute() == 4
    assert warehouse.list_tables() == ["core__src", "core__t"]


def test_write_on_a_worker_beside_the_callers_writes(warehouse) -> None:
    """``write_on``: the worker's cursor sees the committed tables and the expression's
    in-memory tables while this thread writes another table; a failing write raises from
    ``result()`` and keeps the previous table, with no staging table left."""
    from concurrent.futures import ThreadPoolExecutor

    import ibis

    warehouse.write("core__src", pa.table({"a": [1, 2, 3]}))
    src = warehouse.table("core__src")
    names = ibis.memtable(pa.table({"a": [1, 3], "name": ["one", "three"]}))
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = warehouse.write_on(pool, "core__named", src.join(names, "a"))
        warehouse.write("core__other", src.filter(src.a > 1))
        assert done.result() is None
        bad = src.mutate(a=(src.a.cast("string") + "x").cast("int64"))
        failed = warehouse.write_on(pool, "core__named", bad)
        with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error
            failed.result()
    rows = warehouse.table("core__named").order_by("a").to_pyarrow().to_pylist()
    assert rows == [{"a": 1, "name": "one"}, {"a": 3, "name": "three"}]
    assert warehouse.table("core__other").count().execute() == 2
    assert warehouse.list_tables() == ["core__named", "core__other", "core__src"]
    leftovers = warehouse.sql("SELECT table_name FROM duckdb_tables()").fetchall()
    assert not [t for (t,) in leftovers if t.startswith("_staging__")]


def test_write_parts_on_a_worker_reads_scratch_and_memtables(warehouse) -> None:
    """``write_parts_on``: parts made by a generator on this thread, each inserted on the
    worker's cursor, may read scratch and in-memory tables and go by column name; a failing
    part, or a failing generator, keeps the previous table and leaves no staging table."""
    from concurrent.futures import ThreadPoolExecutor

    import ibis

    warehouse.write("core__src", pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    src = warehouse.table("core__src")

    def parts():
        yield warehouse.scratch("core__tmp", src.filter(src.a < 3))
        yield ibis.memtable(pa.table({"b": ["m"], "a": [9]}))  # other column order
        yield src.filter(src.a == 3).select("b", "a")

    def failing():
        yield src
        raise RuntimeError("a measure failed")

    with ThreadPoolExecutor(max_workers=1) as pool:
        warehouse.write_parts_on(pool, "core__t", parts())
        rows = warehouse.table("core__t").order_by("a").to_pyarrow().to_pylist()
        assert [r["a"] for r in rows] == [1, 2, 3, 9] and rows[3]["b"] == "m"
        bad = src.mutate(a=(src.a.cast("string") + "x").cast("int64"))
        with pytest.raises(Exception):  # noqa: B017 - the engine's own conversion error
            warehouse.write_parts_on(pool, "core__t", iter([src, bad, src]))
        with pytest.raises(RuntimeError, match="a measure failed"):
            warehouse.write_parts_on(pool, "core__t", failing())
    assert warehouse.table("core__t").count().execute() == 4
    assert warehouse.list_tables() == ["core__src", "core__t"]
    leftovers = warehouse.sql("SELECT table_name FROM duckdb_tables()").fetchall()
    assert not [t for (t,) in leftovers if t.startswith("_staging__")]


def test_scratch_is_temporary_on_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as wh:
        wh.write("core__src", pa.table({"a": [1, 2]}))
        t = wh.scratch("core__tmp", wh.table("core__src").mutate(b=1))
        assert t.count().execute() == 2
        assert wh.scratch("core__tmp", wh.table("core__src")).columns == ("a",)  # replaced
    with connect(path) as wh:
        assert wh.list_tables() == ["core__src"]  # never written to the file


def test_new_duckdb_file_uses_the_newer_storage_format(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as wh:
        wh.write("core__src", pa.table({"a": ["x", "y"]}))
        tags = wh.sql(
            "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()[0]
        assert tags["storage_version"].startswith("v1.5")
    with connect(path, read_only=True) as wh:  # and it reopens, read-only too
        assert wh.table("core__src").a.to_list() == ["x", "y"]


def test_kill_during_swap_transaction_rolls_back(tmp_path: Path) -> None:
    """A process killed inside the swap transaction leaves the old table (DuckDB WAL recovery)."""
    db = tmp_path / "w.duckdb"
    wh = connect(db)
    wh.write("core__t", pa.table({"a": [1, 2]}))
    wh.close()
    script = textwrap.dedent(
        f"""
        import os, signal
        from cmo.warehouse import connect
        wh = connect({str(db)!r})
        with wh.transaction() as cur:
            cur.execute('DROP TABLE "core__t"')
            cur.execute('CREATE TABLE "core__t" AS SELECT 99 AS a')
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    wh = connect(db)
    assert wh.table("core__t").to_pyarrow()["a"].to_pylist() == [1, 2]
    wh.close()


@pytest.mark.spark
def test_spark_replace_and_append(spark_warehouse) -> None:
    wh = spark_warehouse
    wh.write("fhir__sx", pa.table({"a": [1, 2]}))
    wh.write("fhir__sx", pa.table({"a": [5]}))
    wh.write("fhir__sx", pa.table({"a": [6]}), mode="append")
    assert sorted(wh.table("fhir__sx").to_pyarrow()["a"].to_pylist()) == [5, 6]
    assert "fhir__sx" in wh.list_tables("fhir")


@pytest.mark.spark
def test_spark_write_on_writes_before_returning(spark_warehouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import ibis

    with ThreadPoolExecutor(max_workers=1) as pool:
        done = spark_warehouse.write_on(pool, "fhir__sw", ibis.memtable(pa.table({"a": [4]})))
        assert done.done()  # Spark has no second cursor: written on this thread
    assert spark_warehouse.table("fhir__sw").to_pyarrow()["a"].to_pylist() == [4]


@pytest.mark.spark
def test_spark_write_parts_on_writes_in_turn(spark_warehouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import ibis

    parts = (ibis.memtable(pa.table({"a": [v]})) for v in (1, 2))
    with ThreadPoolExecutor(max_workers=1) as pool:
        spark_warehouse.write_parts_on(pool, "fhir__sp", parts)
    assert sorted(spark_warehouse.table("fhir__sp").to_pyarrow()["a"].to_pylist()) == [1, 2]


@pytest.mark.spark
def test_spark_write_keeps_int64_values_beside_nulls(spark_warehouse) -> None:
    """Through pandas, an int64 column with a null turned every value null on Spark."""
    t = pa.table({"a": pa.array([1, None, 3], pa.int64()), "s": ["x", None, "z"]})
    spark_warehouse.write("fhir__nulls", t)
    got = spark_warehouse.table("fhir__nulls").to_pyarrow().sort_by("s")
    assert got["a"].to_pylist() == [1, 3, None]
    assert got["s"].to_pylist() == ["x", "z", None]
