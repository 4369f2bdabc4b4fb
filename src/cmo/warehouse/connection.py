"""Connection factory and atomic table writes for the analytics warehouse."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis

from cmo.config import ENGINES
from cmo.errors import (
    MissingExtra,
    NotAWarehouse,
    UnknownName,
    WarehouseCorrupt,
    WarehouseError,
    WarehouseLocked,
    WarehouseReadOnly,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

Engine = Literal["duckdb", "spark"]
# DuckDB storage format of new warehouse files (readable by DuckDB >= 1.5; duckdb is pinned).
STORAGE_VERSION = "v1.5.0"
# The in-memory database of a DuckDB connection's scratch tables (``Warehouse.scratch``).
SCRATCH_DB = "cmo_scratch"


def _memtables(expr: ir.Table) -> list[Any]:
    """The in-memory tables ``expr`` reads (Ibis registers them on its own connection only)."""
    import ibis.expr.operations as ops

    return list(expr.op().find(ops.InMemoryTable))


def _run_on(cursor: Any, statement: str, memtables: list[Any]) -> None:
    """Run ``statement`` on a DuckDB cursor after registering the in-memory tables it reads."""
    for table in memtables:
        cursor.register(table.name, table.data.to_pyarrow(table.schema))
    cursor.execute(statement)


def default_path(engine: Engine) -> Path:
    """Where the warehouse lives when --warehouse does not say: ``cmo.config`` decides."""
    from cmo.config import settings

    return settings().warehouse_for(engine)


@dataclass
class Warehouse:
    """An open warehouse: the Ibis backend plus the engine-specific pieces Ibis does not cover."""

    engine: Engine
    con: Any  # ibis.backends.duckdb.Backend | ibis.backends.pyspark.Backend
    path: Path | None = None
    spark: Any = None  # the SparkSession when engine == "spark"
    _closed: bool = field(default=False, repr=False)

    # -- reading -------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """A warehouse table, or else one of this connection's scratch tables (``scratch``)."""
        try:
            return self.con.table(name)
        except ibis.common.exceptions.TableNotFound:
            if self.engine != "duckdb" or not self._has_scratch():
                raise
            return self.con.table(name, database=(SCRATCH_DB, "main"))

    def _has_scratch(self) -> bool:
        found = self.con.con.execute(
            "SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [SCRATCH_DB]
        ).fetchone()
        return found is not None

    def exists(self, name: str) -> bool:
        return name in self.list_tables()

    def list_tables(self, layer: str | None = None) -> list[str]:
        # Staging tables and Ibis' in-memory views are implementation details, never results.
        names = [n for n in self.con.list_tables() if not n.startswith(("_staging__", "ibis_"))]
        if layer:
            names = [n for n in names if n.startswith(f"{layer}__")]
        return sorted(names)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    # -- writing -------------------------------------------------------------------------
    def write(
        self,
        name: str,
        obj: ir.Table | pa.Table | Any,
        mode: Literal["replace", "append"] = "replace",
        *,
        more: Sequence[ir.Table] = (),
    ) -> None:
        """Write ``obj`` (an Ibis expression, a pyarrow Table or a pandas DataFrame) atomically.

        ``replace`` swaps the whole table; ``append`` adds rows. Either happens completely or not
        at all: the rows are first materialised under a staging name, then swapped in.
        ``more`` are further Ibis expressions with the same columns, appended to the staging
        table one by one: on DuckDB one INSERT per part was 1.6x faster than one UNION ALL of
        six 1M-row parts (measured on the measures' long table).
        """
        staging = f"_staging__{name}__{uuid.uuid4().hex[:8]}"
        try:
            self._stage(staging, obj)
            for part in more:
                self.con.insert(staging, part)
            self._swap(staging, name, mode)
        finally:
            self.con.drop_table(staging, force=True)

    def write_on(self, pool: Executor, name: str, obj: ir.Table) -> Future[None]:
        """``write(name, obj)`` run on ``pool``'s thread while the caller goes on.

        A build overlaps writes that do not read each other: one query's single-threaded
        phases (its start, the last row groups, the commit) leave a core idle that the other
        query fills. On DuckDB the SQL is compiled here and run on a cursor of its own, which
        sees the committed tables, the scratch tables and ``obj``'s in-memory tables, not TEMP
        tables; the write is as atomic as ``write`` (staged, then swapped in one transaction).
        On Spark the table is written here, before this returns.
        """
        done: Future[None] = Future()
        if self.engine != "duckdb":
            self.write(name, obj)
            done.set_result(None)
            return done
        sql, memtables = self.con.compile(obj), _memtables(obj)
        cursor = self.con.con.cursor()
        staging = f"_staging__{name}__{uuid.uuid4().hex[:8]}"

        def run() -> None:
            try:
                _run_on(cursor, f"CREATE TABLE {self.quote(staging)} AS {sql}", memtables)
                self._swap(staging, name, "replace", raw=cursor)
            finally:
                cursor.execute(f"DROP TABLE IF EXISTS {self.quote(staging)}")
                cursor.close()

        return pool.submit(run)

    def write_parts_on(self, pool: Executor, name: str, parts: Iterable[ir.Table]) -> None:
        """Write the rows of ``parts`` (Ibis expressions with the same columns) as ``name``,
        atomically, as ``write(name, first, more=rest)`` does; on DuckDB each part runs on
        ``pool``'s thread, on a cursor of its own, while this thread makes the next one.

        ``parts`` may be a generator doing Python work (the measures' long rows: ~1.2 s of
        building expressions and scratch tables at 1M stays, with the engine idle when done
        in turn). The parts may read warehouse, scratch and in-memory tables, not temp
        tables. On Spark the parts are written in turn by ``write``.
        """
        rest = iter(parts)
        first = next(rest)
        if self.engine != "duckdb":
            self.write(name, first, more=list(rest))
            return
        cursor = self.con.con.cursor()
        staging = f"_staging__{name}__{uuid.uuid4().hex[:8]}"
        quoted = self.quote(staging)
        pending: list[Future[None]] = []
        try:
            part: ir.Table | None = first
            verb = f"CREATE TABLE {quoted} AS "
            while part is not None and not any(p.done() and p.exception() for p in pending):
                sql = verb + self.con.compile(part)
                pending.append(pool.submit(_run_on, cursor, sql, _memtables(part)))
                verb = f"INSERT INTO {quoted} BY NAME "
                part = next(rest, None)
            for done in pending:
                done.result()
            self._swap(staging, name, "replace", raw=cursor)
        finally:
            for done in pending:
                done.cancel()
            wait(pending)
            cursor.execute(f"DROP TABLE IF EXISTS {quoted}")
            cursor.close()

    def scratch(self, name: str, obj: ir.Table) -> ir.Table:
        """Materialise an intermediate table that a build reads several times, and return it.

        On DuckDB a table of the in-memory database ``cmo_scratch`` attached to the
        connection: never written to the file (writing 3M rows into the file cost 3.4-5.3 s
        at 1M stays, in memory 1.3-2.8 s), gone with the connection, and (unlike a TEMP
        table) readable by the connection's cursors, so a part of a write on another thread
        can read it (:meth:`write_parts_on`). On Spark a normal table (a cached DataFrame
        would not survive Ibis' queries), replaced by the next build."""
        if self.engine == "duckdb":
            self.con.raw_sql(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH_DB}")
            where = (SCRATCH_DB, "main")
            if self.exists(name):  # a file copy an older cmo left
                self.con.drop_table(name, force=True)
            self.con.drop_table(name, database=where, force=True)
            self.con.create_table(name, obj, database=where)
            return self.con.table(name, database=where)
        self.write(name, obj)
        return self.table(name)

    def fetcher(self, expr: ir.Table) -> Callable[[], pa.Table]:
        """A function that returns ``expr``'s rows as Arrow and may run on another thread.

        On DuckDB the SQL is compiled here and run, when called, on a cursor of its own (a
        DuckDB connection must not serve two threads at once). A cursor sees the committed
        tables and the scratch tables, not this connection's TEMP tables, in-memory tables or
        UDFs: ``expr`` must read those. On Spark the rows are fetched here."""
        if self.engine != "duckdb":
            rows = expr.to_pyarrow()
            return lambda: rows
        sql = self.con.compile(expr)
        cursor = self.con.con.cursor()

        def fetch() -> pa.Table:
            try:
                return cursor.execute(sql).fetch_arrow_table()
            finally:
                cursor.close()

        return fetch

    def _stage(self, staging: str, obj: Any) -> None:
        """Materialise ``obj`` under the staging name."""
        if self.engine == "spark" and not hasattr(obj, "op"):
            # Ibis' pyspark backend goes through pandas, where an int64 column with nulls
            # becomes float and Spark then reads every value as null; hand Arrow to Spark.
            import pandas as pd
            import pyarrow as pa

            if isinstance(obj, pd.DataFrame):
                obj = pa.Table.from_pandas(obj, preserve_index=False)
            self.spark.createDataFrame(obj).write.saveAsTable(staging)
            return
        self.con.create_table(staging, obj)

    def _swap(self, staging: str, name: str, mode: str, raw: Any = None) -> None:
        q = self.quote
        if self.engine == "duckdb":
            with self.transaction(raw) as cur:
                if mode == "append" and self.exists(name):
                    cur.execute(f"INSERT INTO {q(name)} BY NAME SELECT * FROM {q(staging)}")
                else:
                    cur.execute(f"DROP TABLE IF EXISTS {q(name)}")
                    cur.execute(f"ALTER TABLE {q(staging)} RENAME TO {q(name)}")
            return
        # Spark's catalog has no multi-statement transactions: the rename is the atomic step
        # (a directory rename in the local warehouse); a failure before it keeps the old table.
        spark = self.spark
        if mode == "append" and self.exists(name):
            spark.sql(f"INSERT INTO {q(name)} SELECT * FROM {q(staging)}")
            return
        backup = f"_staging__old__{name}__{uuid.uuid4().hex[:8]}"
        had_old = self.exists(name)
        if had_old:
            spark.sql(f"ALTER TABLE {q(name)} RENAME TO {q(backup)}")
        spark.sql(f"ALTER TABLE {q(staging)} RENAME TO {q(name)}")
        if had_old:
            spark.sql(f"DROP TABLE IF EXISTS {q(backup)}")

    @contextmanager
    def transaction(self, raw: Any = None) -> Iterator[Any]:
        """A DuckDB transaction on the raw connection (or on ``raw``, a cursor of it):
        everything inside commits or nothing does."""
        if self.engine != "duckdb":
            raise NotImplementedError("multi-statement transactions exist on DuckDB only")
        raw = self.con.con if raw is None else raw
        raw.execute("BEGIN TRANSACTION")
        try:
            yield raw
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")

    def drop(self, name: str) -> None:
        self.con.drop_table(name, force=True)

    def quote(self, name: str) -> str:
        """Quote an identifier for this engine's SQL dialect."""
        if self.engine == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def sql(self, query: str) -> Any:
        """Run engine SQL (for the few statements Ibis cannot express); returns the raw result."""
        if self.engine == "duckdb":
            return self.con.con.execute(query)
        return self.spark.sql(query)

    def verify(self) -> None:
        """Before a write: the warehouse can be written and its stored checksums hold.

        Raises WarehouseReadOnly or WarehouseCorrupt (one line each). DuckDB checks a block's
        checksum only when it reads the block, so damage in a table nobody read since (64 KB
        of random bytes in the file) would surface in a later build; this reads every block
        of the file once at disk speed (:func:`damaged_blocks`) and, only when one fails,
        asks DuckDB to read every table (a failed block may be a free one). A no-op on Spark
        and in memory.
        """
        if self.engine != "duckdb" or self.path is None or str(self.path) == ":memory:":
            return
        for where in (self.path, self.path.parent):
            if where.exists() and not os.access(where, os.W_OK):
                raise WarehouseReadOnly(f"cannot write {where}: permission denied")
        readonly = self.con.con.execute(
            "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        if readonly and readonly[0]:
            raise WarehouseReadOnly(f"the warehouse {self.path} is open read-only")
        if self.path.exists() and damaged_blocks(self.path):
            self._read_every_table()

    def _read_every_table(self) -> None:
        import duckdb

        raw = self.con.con
        tables = raw.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary"
        ).fetchall()
        for schema, name in tables:
            qualified = f"{self.quote(schema)}.{self.quote(name)}"
            try:
                raw.execute(f"SELECT min(hash(t)) FROM {qualified} AS t").fetchall()
            except duckdb.IOException as exc:
                raise WarehouseCorrupt(
                    f"the warehouse {self.path} is damaged (table {name}: "
                    f"{str(exc).splitlines()[0][:160]}); nothing was written",
                    "restore it from a backup, or ingest again into a new file",
                ) from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.engine == "duckdb":
            self.con.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    path: str | Path | None = None,
    engine: Engine = "duckdb",
    spark_master: str | None = None,
    spark_remote: str | None = None,
    read_only: bool = False,
) -> Warehouse:
    """Open the warehouse.

    DuckDB: ``path`` is the database file (default ``$CMO_WAREHOUSE`` or
    ``./cmo-data/warehouse.duckdb``). Spark: ``path`` is the warehouse directory; the session is
    local (``local[*]``) unless ``spark_master`` (a cluster URL) or ``spark_remote``
    (``sc://host:port``, Spark Connect) is given.
    """
    if engine not in ENGINES:
        raise UnknownName("engine", str(engine), ENGINES)
    where = Path(path) if path is not None else default_path(engine)
    if engine == "duckdb":
        return Warehouse(engine="duckdb", con=_duckdb(where, read_only), path=where)
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError:
        raise MissingExtra("spark", "--engine spark") from None
    spark = spark_session(where, master=spark_master, remote=spark_remote)
    con = ibis.pyspark.connect(spark)
    return Warehouse(engine="spark", con=con, path=where, spark=spark)


def _duckdb(where: Path, read_only: bool) -> Any:
    """Open a DuckDB file; a lock, a foreign or corrupt file become one-line ``CmoError``s."""
    import duckdb

    if str(where) != ":memory:":
        if read_only and not where.exists():
            raise WarehouseError(
                f"no warehouse at {where}", "run `cmo ingest PATH` (or `cmo demo`) first"
            )
        if where.exists() and where.is_dir():
            raise NotAWarehouse(f"{where} is a folder, not a DuckDB warehouse file")
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseReadOnly(f"cannot create {where.parent}: {exc.strerror}") from None
    try:
        # A new file is written in DuckDB 1.5's storage format: its string compression is
        # cheaper (copying the 6M-row measures long table: 6.7 s in the default
        # 0.10-compatible format, 4.3-5.0 s in the 1.4/1.5 formats). An older file keeps its.
        return ibis.duckdb.connect(
            str(where), read_only=read_only, storage_compatibility_version=STORAGE_VERSION
        )
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseLocked(
                f"the warehouse {where} is in use by another cmo process",
                "wait for the running ingest or build to finish, then try again",
            ) from None
        if "not a valid DuckDB database" in text or "database file" in text.lower():
            raise NotAWarehouse(f"{where} is not a DuckDB warehouse file") from None
        if "Permission denied" in text or "Read-only" in text:
            raise WarehouseReadOnly(f"cannot write {where}: permission denied") from None
        first = text.splitlines()[0]
        raise WarehouseError(f"cannot open the warehouse {where}: {first}") from None
    except (duckdb.SerializationException, duckdb.InternalException) as exc:
        raise WarehouseCorrupt(
            f"the warehouse {where} is damaged: {str(exc).splitlines()[0]}",
            "restore it from a backup, or ingest again into a new file",
        ) from None


# DuckDB's file layout (storage version 1.5): three 4 KB headers, then 256 KB blocks, each
# starting with the 8-byte checksum of the rest of the block. The checksum (DuckDB's
# src/common/checksum.cpp): 5381 XOR, over the 8-byte words w of the block, w * 0xbf58476d1ce4e5b9.
_HEADERS, _HEADER_SIZE, _BLOCK_SIZE = 3, 4096, 262144
_CHECKSUM_MUL = 0xBF58476D1CE4E5B9
_BLOCKS_PER_READ = 64  # 16 MB of the file at a time


def _checksums_fail(blocks: Any) -> Any:
    """For a (n, size) uint8 array of blocks: True where the stored checksum does not match.
    An all-zero block (never written, a hole in the file) is not checked."""
    import numpy as np

    stored = np.ascontiguousarray(blocks[:, :8]).view(np.uint64).ravel()
    words = np.ascontiguousarray(blocks[:, 8:]).view(np.uint64)
    with np.errstate(over="ignore"):
        computed = np.bitwise_xor.reduce(words * np.uint64(_CHECKSUM_MUL), axis=1)
    computed ^= np.uint64(5381)
    fail = computed != stored
    for i in np.nonzero(fail)[0]:  # few or none: a block of zeros was never written
        fail[i] = bool(blocks[i].any())
    return fail


def damaged_blocks(path: Path) -> list[int]:
    """File offsets of the headers and blocks of a DuckDB file whose checksums fail.

    ~1 GB/s with numpy; a file whose size is not headers + whole blocks (another storage
    layout) is reported as one damaged offset so the caller asks DuckDB instead.
    """
    import numpy as np

    size = path.stat().st_size
    body = size - _HEADERS * _HEADER_SIZE
    if body < 0 or body % _BLOCK_SIZE:
        return [0]
    bad: list[int] = []
    with open(path, "rb") as fh:
        head = np.frombuffer(fh.read(_HEADERS * _HEADER_SIZE), dtype=np.uint8)
        for i in np.nonzero(_checksums_fail(head.reshape(_HEADERS, _HEADER_SIZE)))[0]:
            bad.append(int(i) * _HEADER_SIZE)
        offset = _HEADERS * _HEADER_SIZE
        while chunk := fh.read(_BLOCK_SIZE * _BLOCKS_PER_READ):
            blocks = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, _BLOCK_SIZE)
            for i in np.nonzero(_checksums_fail(blocks))[0]:
                bad.append(offset + int(i) * _BLOCK_SIZE)
            offset += len(chunk)
    return bad


def spark_session(warehouse_dir: Path, master: str | None = None, remote: str | None = None) -> Any:
    """A SparkSession tuned for one machine unless a cluster is named.

    UTC session time zone so timestamps match DuckDB's; few shuffle partitions because the
    default 200 costs seconds per stage on small data.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("cmo")
    if remote:
        builder = builder.remote(remote)
    else:
        warehouse_dir.mkdir(parents=True, exist_ok=True)
        builder = (
            builder.master(master or os.environ.get("CMO_SPARK_MASTER", "local[2]"))
            .config("spark.sql.warehouse.dir", str(warehouse_dir.resolve()))
            .config(
                "spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse_dir.resolve()}"
            )
            .config("spark.sql.shuffle.partitions", os.environ.get("CMO_SPARK_PARTITIONS", "4"))
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", os.environ.get("CMO_SPARK_MEMORY", "4g"))
        )
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    return builder.getOrCreate()
