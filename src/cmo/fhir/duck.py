"""The DuckDB ingest: DuckDB parses, checks and flattens; Python only orchestrates.

Per file, first DuckDB's own NDJSON reader (``read_json`` with the explicit struct); when it
rejects the file or a line does not fit, the file is read line by line: Python splits it on
``\n`` (line numbers exact whatever the bytes), quarantines lines that are not UTF-8, too long
or not strict JSON, and hands the rest to DuckDB, which parses them with the resource's struct
(``json_transform``), shape-checks them (``json_type`` and the scalar checks) and appends them
to a per-type staging table. Lines of another known type are parsed in a second scan
with their own struct. At the end each type is de-duplicated (latest meta.lastUpdated, then the
later file, then the later line), merged by id into the warehouse tables, and the child tables
follow their parent's winning version. All of it runs in one transaction: a failure or a kill
leaves the warehouse as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cmo.fhir import sql as fsql
from cmo.fhir.schema import (
    BOOLEAN,
    BY_TYPE,
    DECIMAL,
    INTEGER,
    STRING,
    Resource,
    parse_path,
    shape_checks,
)
from cmo.fhir.sources import MAX_LINE, IngestError, Source, iter_lines, lenient_syntax

D = fsql.DUCKDB
TEXT_CHARS = 500  # the quarantine keeps the first 500 characters of a bad line
LINES = "_cmo_lines"  # the line path's TEMP table of one file's lines (line_no, line)
BATCH_BYTES = 1 << 25  # lines handed from Python to DuckDB per batch
# FHIR resource type names (https://hl7.org/fhir/R4/resourcelist.html): letters, capital first.
RESOURCE_TYPE = "[A-Z][A-Za-z]{0,63}"

# Non-string scalars are parsed as JSON text so that no engine cast can coerce them (2.5 to an
# integer, "yes" to a boolean, 1e400 to inf); :func:`_leaf_sql` checks them, the flattening
# casts them to the column type afterwards.
_DUCK_SCALAR = {STRING: "VARCHAR", DECIMAL: "JSON", INTEGER: "JSON", BOOLEAN: "JSON"}
# For lines whose type has no schema: enough to classify and count them.
GENERIC_TREE: dict[str, Any] = {"resourceType": STRING, "id": STRING}

QUARANTINE = "fhir__quarantine"
RUN_LOG = "fhir__ingest_run"
QUARANTINE_COLS = [
    ("run_id", "string"),
    ("file", "string"),
    ("line", "bigint"),
    ("resource_type", "string"),
    ("reason", "string"),
    ("text", "string"),
]
RUN_LOG_COLS = [
    ("run_id", "string"),
    ("started", "timestamp"),
    ("finished", "timestamp"),
    ("engine", "string"),
    ("files", "bigint"),
    ("file_list", "string"),
    ("rows", "string"),
    ("quarantined", "bigint"),
    ("other_types", "string"),
    ("seconds", "double"),
]


def duck_struct(tree: Any) -> Any:
    """The json_transform structure (``{"id": "VARCHAR", "code": {...}}``) of a parse tree."""
    if isinstance(tree, dict):
        return {k: duck_struct(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [duck_struct(tree[0])]
    return _DUCK_SCALAR[tree]


def _json_kind(t: str) -> str:
    """DuckDB's json_type name as a JSON kind (object, array, string, number, boolean, null)."""
    return (
        f"CASE {t} WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' "
        f"THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' ELSE 'number' END"
    )


def _check_sql(checks: list[tuple[str, str]], offset: int) -> tuple[str, str]:
    """(all-fit condition, first-misfit reason) over ``t = json_type(line, paths)`` and ``s``.

    ``t[offset + i]`` is the JSON type of the i-th checked path (DuckDB lists are 1-based). A
    value fits when the engine's conversion to the declared type keeps it: present and not null
    in the JSON but null in the parsed struct means it did not fit ("98.6" fits a decimal,
    "ninety-eight" does not). Objects and arrays must be objects and arrays. These are the
    rules DuckDB's own reader applies, so the line-by-line path and the read_json path agree.
    """
    conds, reasons = [], []
    for i, (path, kind) in enumerate(checks, start=offset + 1):
        if path == "$":
            cond = f"(t[{i}] = 'OBJECT')"
        elif kind in ("object", "array"):  # json_transform would keep a misfit as empty
            cond = f"(t[{i}] IS NULL OR t[{i}] IN ('NULL', '{kind.upper()}'))"
        else:
            parsed = D.path("s", parse_path(path[2:]))
            cond = f"(t[{i}] IS NULL OR t[{i}] = 'NULL' OR {parsed} IS NOT NULL)"
        conds.append(cond)
        what = "not a JSON object" if path == "$" else f"{path[2:]}: expected {kind}"
        reasons.append(f"WHEN NOT {cond} THEN '{what}, got ' || {_json_kind(f't[{i}]')}")
    if not conds:
        return "true", "NULL"
    return " AND ".join(conds), "CASE " + " ".join(reasons) + " END"


# Checked on every line whatever its type: a JSON object (then resourceType and id present).
BASE_CHECKS = [("$", "object")]


def _fits(kind: str, v: str) -> str:
    """SQL: the JSON value ``v`` (or NULL: absent) is one its FHIR type holds, exactly.

    integer: a JSON integer in FHIR's 32-bit range (2.5 and 2.0 are not); boolean: true or
    false (not "yes", 1); decimal: a finite JSON number (not "98.6", NaN or 1e400).
    """
    t = f"json_type({v})"
    if kind == BOOLEAN:
        ok = f"{t} = 'BOOLEAN'"
    elif kind == INTEGER:
        ok = f"{t} IN ('BIGINT', 'UBIGINT') AND try_cast({v} AS INTEGER) IS NOT NULL"
    else:
        ok = f"{t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND isfinite(try_cast({v} AS DOUBLE))"
    return f"({v} IS NULL OR ({ok}))"


def _leaf_sql(tree: Any, expr: str, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(all scalar leaves fit, reason naming the first misfit's path) under ``tree`` at
    ``expr``, arrays included (``component[2].valueQuantity.value: expected decimal, got
    "x"``); None when there is nothing to check. ``path`` is SQL text of the path so far."""
    if isinstance(tree, list):
        x = f"x{depth + 1}"
        inner = _leaf_sql(tree[0], x, "''", depth + 1)
        if inner is None:
            return None
        oks = f"list_transform({expr}, lambda {x}: {inner[0]})"
        ok = f"coalesce(NOT list_contains({oks}, false), true)"
        if depth > 0:  # an array in an array: the reason names it, not the element (the SQL
            # that finds the element would grow exponentially with the nesting)
            return ok, f"{path} || '[]: an element does not fit its FHIR type'"
        at = f"list_position({oks}, false)"
        at_path = f"{path} || '[' || ({at} - 1) || ']'"
        elem = _leaf_sql(tree[0], f"{expr}[{at}]", at_path, depth + 1)
        assert elem is not None
        return ok, elem[1]
    if not isinstance(tree, dict):
        if tree == STRING:
            return None
        got = f"left(CAST({expr} AS VARCHAR), 40)"
        return _fits(tree, expr), f"{path} || ': expected {tree}, got ' || {got}"
    parts = []
    for key, sub in tree.items():
        sep = "." if path != "''" else ""
        part = _leaf_sql(sub, D.field(expr, key), f"{path} || '{sep}{key}'", depth)
        if part is not None:
            parts.append(part)
    if not parts:
        return None
    ok = "(" + " AND ".join(p[0] for p in parts) + ")"
    return ok, "CASE " + " ".join(f"WHEN NOT {o} THEN {r}" for o, r in parts) + " END"


def leaf_checks(rtype: str | None) -> tuple[str, str]:
    """(fits, reason) SQL over the parsed struct ``s`` for a resource type's scalar leaves."""
    got = _leaf_sql(BY_TYPE[rtype].parse_tree, "s", "''") if rtype in BY_TYPE else None
    return got if got is not None else ("true", "NULL")


def _bad_type_sql(rt: str) -> str:
    """SQL: ``rt`` (resourceType parsed as text) is not a resource type name (5, "", [..])."""
    return f"NOT regexp_full_match({rt}, '{RESOURCE_TYPE}')"


def _stage_name(rtype: str | None) -> str:
    return f"_cmo_stage__{(rtype or 'other').lower()}"


def _parse_file_sql(src: Source, idx: int, rtype: str | None, only: str | None = None) -> str:
    """SELECT of one file's lines parsed as ``rtype``: all lines, or (``only``, the staging
    table of the file's first parse) the lines that parse found good and of type ``rtype``."""
    tree = BY_TYPE[rtype].parse_tree if rtype in BY_TYPE else GENERIC_TREE
    struct = json.dumps(duck_struct(tree)).replace("'", "''")
    base = set(BASE_CHECKS)
    # Objects and arrays by json_type on the line (json_transform would keep a misfit as
    # empty); scalars on the parsed struct (leaf_checks). String elements take any JSON value
    # as text, as DuckDB's reader does: nothing to check.
    own = [c for c in shape_checks(tree) if c not in base and c[1] in ("object", "array")]
    own = own if rtype in BY_TYPE else []
    base_fits, base_misfit = _check_sql(BASE_CHECKS, 0)
    fits, misfit = _check_sql(own, len(BASE_CHECKS))
    leaf_fits, leaf_misfit = leaf_checks(rtype)
    paths = [p for p, _ in BASE_CHECKS + own] + ["$.id"]
    path_list = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    where = "line IS NOT NULL"
    if only is not None:
        where += (
            f" AND line_no IN (SELECT source_line FROM {only} WHERE file_idx = {idx} "
            f"AND problem IS NULL AND rt = {D.lit(rtype or '')})"
        )
    id_kind = f"t[{len(paths)}]"
    # The type's own checks apply to lines of that type only; others are re-read later.
    mine = f"s['resourceType'] = {D.lit(rtype or '')}"
    bad_type = _bad_type_sql("s['resourceType']")
    problem = (
        "CASE WHEN s IS NULL THEN 'invalid JSON' "
        f"WHEN NOT ({base_fits}) THEN {base_misfit} "
        "WHEN s['resourceType'] IS NULL THEN 'missing resourceType' "
        f"WHEN {bad_type} THEN 'resourceType: expected a resource "
        "type name, got ' || left(json_extract(line, '$.resourceType')::VARCHAR, 40) "
        "WHEN s['id'] IS NULL OR s['id'] = '' THEN 'missing id' "
        f"WHEN {id_kind} <> 'VARCHAR' THEN 'id: expected string, got ' || {_json_kind(id_kind)} "
        f"WHEN {mine} AND NOT ({fits}) THEN {misfit} "
        f"WHEN {mine} AND NOT ({leaf_fits}) THEN {leaf_misfit} END"
    )
    return f"""
        SELECT {idx} AS file_idx, {D.lit(src.name)} AS source_file, line_no AS source_line,
               s, s['resourceType'] AS rt, problem,
               CASE WHEN problem IS NOT NULL THEN left(line, {TEXT_CHARS}) END AS text
        FROM (
          SELECT line_no, line, s, {problem} AS problem
          FROM (
            SELECT line_no, line, s,
                   CASE WHEN s IS NOT NULL THEN json_type(line, {path_list}) END AS t
            FROM (
              SELECT line_no, line, try(json_transform(line, '{struct}')) AS s
              FROM {LINES} WHERE {where}
            )
          )
        )"""


def _fast_sql(src: Source, idx: int, rtype: str | None) -> str:
    """SELECT of a whole file through DuckDB's own NDJSON reader with the explicit struct.

    The engine's fastest path. It fails on invalid JSON or a value its cast rejects, and it
    skips blank lines (so its row numbers are line numbers only when there are none): the
    caller then reads the file again line by line (:func:`_parse_file_sql`). It is never used
    for a file whose scan found syntax it would read leniently (trailing comma, NaN).
    """
    tree = BY_TYPE[rtype].parse_tree if rtype in BY_TYPE else GENERIC_TREE
    top = duck_struct(tree)
    columns = "{" + ", ".join(f"{D.lit(k)}: {D.lit(_type_sql(v))}" for k, v in top.items()) + "}"
    # id is read as JSON so that a number (17) is not taken as the text "17": a non-string
    # id packs as NULL, which sends the file to the line path (that quarantines it).
    columns = columns.replace("'id': 'VARCHAR'", "'id': 'JSON'")
    pack = ", ".join(
        '"id" := CASE WHEN json_type("id") = \'VARCHAR\' THEN "id" ->> \'$\' END'
        if k == "id"
        else f"{D.q(k)} := {D.q(k)}"
        for k in top
    )
    comp = "gzip" if src.gzip else "uncompressed"
    return f"""
        SELECT {idx} AS file_idx, {D.lit(src.name)} AS source_file, line_no AS source_line,
               struct_pack({pack}) AS s, "resourceType" AS rt,
               CAST(NULL AS VARCHAR) AS problem, CAST(NULL AS VARCHAR) AS text
        FROM read_json({D.lit(str(src.path))}, columns={columns}, format='newline_delimited',
                       compression='{comp}', maximum_object_size=33554432)
             WITH ORDINALITY AS f({", ".join(D.q(k) for k in top)}, line_no)"""


def _type_sql(v: Any) -> str:
    if isinstance(v, dict):
        return "STRUCT(" + ", ".join(f"{D.q(k)} {_type_sql(x)}" for k, x in v.items()) + ")"
    if isinstance(v, list):
        return _type_sql(v[0]) + "[]"
    return str(v)


class DuckRun:
    """One ingest run. Parsing goes to TEMP tables in autocommit (a file the fast reader rejects
    is re-read without aborting anything; temp tables spill to disk past the memory limit and
    vanish with the connection); the merge into the warehouse then runs in one transaction."""

    def __init__(self, stage: Any, run_id: str) -> None:
        self.stage = stage
        self.run_id = run_id
        self.staged: set[str | None] = set()
        self.line_read: set[str | None] = set()  # staging tables that may hold bad lines
        self.other_types: dict[str, int] = {}
        self.problems: list[tuple[str, int | None, str | None, str, str | None]] = []
        self.lines = 0  # input lines, every file
        self.blank = 0  # blank lines (skipped, neither loaded nor quarantined)

    def _append(self, rtype: str | None, select: str) -> None:
        name = _stage_name(rtype)
        if rtype in self.staged:
            self.stage.execute(f"INSERT INTO {name} {select}")
        else:
            self.stage.execute(f"CREATE TEMP TABLE {name} AS {select}")
            self.staged.add(rtype)  # only once it exists: drop_staging drops what is here
        self.line_read.add(rtype)

    def _try_fast(self, src: Source, idx: int, rtype: str | None) -> list[tuple[str, int]] | None:
        """Load the file with read_json; returns the (type, lines) of lines of other types, or
        None (and nothing kept) when the file needs the line-by-line path."""
        import duckdb

        name = _stage_name(rtype)
        probe = f"CREATE OR REPLACE TEMP TABLE _cmo_probe AS {_fast_sql(src, idx, rtype)}"
        try:
            self.stage.execute(probe)
        except duckdb.Error:
            # Also when out of memory: the reader's buffers (2 x the 32 MB object limit per
            # thread) do not spill; the line path needs far less. If it too runs out, it fails.
            self.stage.execute("DROP TABLE IF EXISTS _cmo_probe")
            return None
        fits, _ = leaf_checks(rtype)
        counts = self.stage.execute(
            "SELECT rt, count(*), count(*) FILTER (WHERE rt IS NULL OR s['id'] IS NULL "
            f"OR s['id'] = '' OR {_bad_type_sql('rt')} "
            f"OR (rt = {D.lit(rtype or '')} AND NOT {fits})) FROM _cmo_probe GROUP BY rt"
        ).fetchall()
        if sum(c[1] for c in counts) != src.lines or any(c[2] for c in counts):
            self.stage.execute("DROP TABLE IF EXISTS _cmo_probe")
            return None
        if rtype in self.staged:
            self.stage.execute(f"INSERT INTO {name} SELECT * FROM _cmo_probe")
        else:
            self.stage.execute(f"ALTER TABLE _cmo_probe RENAME TO {name}")
            self.staged.add(rtype)
        self.stage.execute("DROP TABLE IF EXISTS _cmo_probe")
        return [(rt, int(n)) for rt, n, _ in counts if rt != rtype]

    def _load_lines(self, src: Source) -> None:
        """The file's lines into the TEMP table LINES, from Python: split on ``\\n`` only, so
        line numbers hold whatever the bytes. Lines no JSON parser should see (not UTF-8,
        longer than MAX_LINE, syntax only a lenient parser takes) are quarantined here."""
        import pyarrow as pa

        self.stage.execute(f"CREATE OR REPLACE TEMP TABLE {LINES} (line_no BIGINT, line VARCHAR)")
        known = {line for line, _, _ in src.problems if line is not None}
        nos: list[int] = []
        texts: list[str] = []
        size = 0

        def flush() -> None:
            batch = pa.table({"line_no": pa.array(nos, pa.int64()), "line": texts})
            self.stage.register("_cmo_batch", batch)
            self.stage.execute(f"INSERT INTO {LINES} SELECT * FROM _cmo_batch")
            self.stage.unregister("_cmo_batch")
            nos.clear()
            texts.clear()

        for n, raw in iter_lines(src):
            if n in known:
                continue
            if not raw.strip():
                self.blank += 1
                continue
            problem, text = _line_problem(raw)
            if problem is not None:
                shown = raw[: TEXT_CHARS * 4].decode("utf-8", "replace")[:TEXT_CHARS]
                self.problems.append((src.name, n, None, problem, shown))
                continue
            nos.append(n)
            texts.append(text)
            size += len(raw)
            if size > BATCH_BYTES:
                flush()
                size = 0
        if nos:
            flush()

    def load_file(self, src: Source, idx: int) -> None:
        """Parse one file into the staging tables; note its bad lines for the quarantine."""
        self.lines += src.lines
        for line, reason, text in src.problems:
            self.problems.append((src.name, line, None, reason, text))
        hint = src.type_hint if src.type_hint in BY_TYPE else None
        others = None if src.line_by_line else self._try_fast(src, idx, hint)
        lines_loaded = others is None
        if others is None:
            self._load_lines(src)
            self._append(hint, _parse_file_sql(src, idx, hint, None))
            others = self.stage.execute(
                f"SELECT rt, count(*) FROM {_stage_name(hint)} WHERE file_idx = ? "
                f"AND problem IS NULL AND rt IS DISTINCT FROM ? GROUP BY rt ORDER BY rt",
                [idx, hint],
            ).fetchall()
        # Lines of another type than the file's: parse again with their own schema.
        for rt, n in sorted(others):
            if rt in BY_TYPE:
                if not lines_loaded:
                    self._load_lines(src)
                    lines_loaded = True
                self._append(rt, _parse_file_sql(src, idx, rt, only=_stage_name(hint)))
            else:
                self.other_types[rt] = self.other_types.get(rt, 0) + int(n)
        self.stage.execute(f"DROP TABLE IF EXISTS {LINES}")

    def drop_staging(self) -> None:
        for rtype in self.staged:
            self.stage.execute(f"DROP TABLE IF EXISTS {_stage_name(rtype)}")
        self.stage.execute("DROP TABLE IF EXISTS _cmo_probe")
        self.stage.execute(f"DROP TABLE IF EXISTS {LINES}")
        self.staged.clear()

    def merge(self, con: Any) -> Counts:
        """In the warehouse transaction: quarantine, then merge every staged type."""
        counts = Counts(lines=self.lines, blank=self.blank, other=sum(self.other_types.values()))
        for row in self.problems:
            con.execute(f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, ?)", [self.run_id, *row])
            counts.quarantined += 1
        for rtype in sorted(self.line_read, key=str):
            stage = _stage_name(rtype)
            n = con.execute(
                f"INSERT INTO {QUARANTINE} SELECT DISTINCT ON (source_file, source_line) "
                f"?, source_file, source_line, try(json_extract_string(text, '$.resourceType')), "
                f"problem, text FROM {stage} WHERE problem IS NOT NULL "
                f"ORDER BY source_file, source_line",
                [self.run_id],
            ).fetchone()
            counts.quarantined += int(n[0]) if n else 0
        for rtype in sorted(t for t in self.staged if t is not None):
            res = BY_TYPE[rtype]
            written, n = merge_type(con, res, _stage_name(rtype))
            counts.rows.update(written)
            counts.loaded += written[f"fhir__{res.table}"]
            counts.superseded += n - written[f"fhir__{res.table}"]
        return counts


def _line_problem(raw: bytes) -> tuple[str | None, str]:
    """(reason the line cannot be parsed, or None; its text)."""
    if len(raw) > MAX_LINE:
        return f"line longer than {MAX_LINE >> 20} MB ({len(raw):,} bytes)", ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start + 1} of the line", ""
    if lenient_syntax(raw):
        return "invalid JSON", text
    return None, text


@dataclass
class Counts:
    """Where every input line went; :meth:`check` proves they add up."""

    lines: int = 0
    loaded: int = 0  # versions written to the resource tables
    superseded: int = 0  # good lines not written: an older version of an id (run or stored)
    other: int = 0  # good lines of a type without a schema (counted, not loaded)
    quarantined: int = 0
    blank: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Raise (the run then rolls back) unless every line is accounted for exactly once."""
        parts = self.loaded + self.superseded + self.other + self.quarantined + self.blank
        if parts != self.lines:
            raise IngestError(
                f"the ingest lost track of {self.lines - parts} line(s) ({self.summary()}); "
                "nothing was written",
                "this is a bug in cmo: please report it with the input if you can",
            )

    def summary(self) -> str:
        return (
            f"{self.lines:,} lines = {self.loaded:,} loaded + {self.superseded:,} superseded + "
            f"{self.other:,} other type + {self.quarantined:,} quarantined + {self.blank:,} blank"
        )


def merge_type(con: Any, res: Resource, stage: str) -> tuple[dict[str, int], int]:
    """Merge a run's versions of one resource type into its tables.

    Returns (rows written per table, good lines of this type read in the run).
    """
    main = f"fhir__{res.table}"
    lu = fsql.last_updated_ts(D, "s")
    versions = f"""
        SELECT s, source_file, source_line, file_idx, {lu} AS lu
        FROM {stage} WHERE problem IS NULL AND rt = {D.lit(res.resource_type)}"""
    n, ids = con.execute(f"SELECT count(*), count(DISTINCT s['id']) FROM ({versions})").fetchone()
    source = f"({versions})"
    if n != ids:  # several versions of an id in this run: keep the latest
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _cmo_dedup AS SELECT * FROM ({versions})
            QUALIFY row_number() OVER (
              PARTITION BY s['id'] ORDER BY lu DESC NULLS LAST, file_idx DESC, source_line DESC
            ) = 1""")
        source = "_cmo_dedup"
    stored = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {main} LIMIT 1)").fetchone()[0]
    if stored:
        # A stored version with a later lastUpdated stays (found on the ids only; the staged
        # structs are not copied for that).
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _cmo_old AS
            SELECT n.id FROM (SELECT s['id'] AS id, lu FROM {source}) n
            JOIN {main} o ON o.id = n.id
            WHERE o.last_updated_ts IS NOT NULL AND (n.lu IS NULL OR o.last_updated_ts > n.lu)""")
        if con.execute("SELECT count(*) FROM _cmo_old").fetchone()[0]:
            source = f"(SELECT * FROM {source} WHERE s['id'] NOT IN (SELECT id FROM _cmo_old))"
    # A view, not a copy: the flattening queries read the staged structs directly.
    con.execute(f"CREATE OR REPLACE TEMP VIEW _cmo_new AS SELECT * FROM {source}")
    rows: dict[str, int] = {}
    if stored:
        con.execute(f"DELETE FROM {main} WHERE id IN (SELECT s['id'] FROM _cmo_new)")
    cur = con.execute(f"INSERT INTO {main} BY NAME {fsql.main_select(D, res, '_cmo_new')}")
    rows[main] = int(cur.fetchone()[0])
    for child in res.children:
        table = f"fhir__{child.name}"
        if stored:
            con.execute(
                f"DELETE FROM {table} WHERE {res.parent_key} IN (SELECT s['id'] FROM _cmo_new)"
            )
        sel = fsql.child_select(D, res, child, "_cmo_new")
        rows[table] = int(con.execute(f"INSERT INTO {table} BY NAME {sel}").fetchone()[0])
    con.execute("DROP VIEW _cmo_new")
    con.execute("DROP TABLE IF EXISTS _cmo_old")
    con.execute("DROP TABLE IF EXISTS _cmo_dedup")
    return rows, int(n)


def ensure_tables(con: Any) -> None:
    """Create every fhir table that does not exist yet (empty, with its declared columns)."""
    from cmo.fhir.schema import all_tables

    for name, cols in all_tables().items():
        con.execute(fsql.create_table(D, f"fhir__{name}", cols))
    con.execute(fsql.create_table(D, QUARANTINE, QUARANTINE_COLS))
    con.execute(fsql.create_table(D, RUN_LOG, RUN_LOG_COLS))


def stage_files(
    con: Any, sources: list[Source], run_id: str, advance: Callable[[Source], None]
) -> DuckRun:
    """Parse every source into TEMP staging tables of ``con`` (autocommit, outside the run's
    transaction: nothing in the warehouse changes here)."""
    run = DuckRun(con, run_id)
    for idx, src in enumerate(sources):
        run.load_file(src, idx)
        advance(src)
    return run
