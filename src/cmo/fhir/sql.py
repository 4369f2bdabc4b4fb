"""Flattening SQL generated from the schema declarations, for DuckDB and Spark SQL.

One generator, two small dialects: the few operations that differ (struct and list access,
lambdas, interval arithmetic) are methods of :class:`Dialect`; everything else is common SQL.
The query has two levels: the inner one pulls raw values out of the parsed struct ``s``
(or the array element ``e`` of a child table), the outer one derives typed columns (dates,
references) from those raw values, so each long path expression is written once.

Date rules (docs/data-model.md "Dates"): ``x`` keeps the text; ``x_date`` is the calendar date
as written (a partial date ``2024`` / ``2024-05`` takes the first day of its year / month);
``x_ts`` is the instant in UTC (an offset is subtracted, ``Z`` or no zone is read as UTC, a
date without time is midnight UTC of ``x_date``). Unparseable text gives null, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmo.fhir.schema import Child, Col, Resource, Step, parse_path

_LOCAL = "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)"
_ZONE = "(Z|[+-][0-9]{2}:[0-9]{2})$"
_LEAP = "(T[0-9]{2}:[0-9]{2}):60([.][0-9]+)?"


@dataclass(frozen=True)
class Dialect:
    name: str  # "duckdb" | "spark"

    def q(self, ident: str) -> str:
        if self.name == "spark":
            return "`" + ident.replace("`", "``") + "`"
        return '"' + ident.replace('"', '""') + '"'

    def lit(self, value: str) -> str:
        if self.name == "spark":
            value = value.replace("\\", "\\\\")
        return "'" + value.replace("'", "''") + "'"

    def field(self, expr: str, name: str) -> str:
        if self.name == "spark":
            return f"{expr}.{self.q(name)}"
        return f"{expr}[{self.lit(name)}]"

    def first(self, expr: str) -> str:
        # Spark 4 runs ANSI SQL: arr[0] on an empty array is an error, get() returns null.
        return f"get({expr}, 0)" if self.name == "spark" else f"{expr}[1]"

    def where(self, expr: str, key: str, value: str, depth: int) -> str:
        v = f"x{depth}"
        cond = f"{self.field(v, key)} = {self.lit(value)}"
        if self.name == "spark":
            return f"get(filter({expr}, {v} -> {cond}), 0)"
        return f"list_filter({expr}, lambda {v}: {cond})[1]"

    def join(self, expr: str) -> str:
        fn = "array_join" if self.name == "spark" else "array_to_string"
        return f"{fn}({expr}, ' ')"

    def minus_minutes(self, ts: str, minutes: str) -> str:
        if self.name == "spark":
            return f"timestampadd(MINUTE, -({minutes}), {ts})"
        return f"({ts} - to_minutes(CAST({minutes} AS BIGINT)))"

    def path(self, base: str, steps: tuple[Step, ...]) -> str:
        expr = base
        for depth, step in enumerate(steps):
            if step.field is not None:
                expr = self.field(expr, step.field)
            elif step.first:
                expr = self.first(expr)
            else:
                assert step.where is not None
                expr = self.where(expr, step.where[0], step.where[1], depth)
        return expr

    # -- derived columns -------------------------------------------------------------------
    def to_date(self, x: str) -> str:
        return (
            f"try_cast(CASE length({x}) WHEN 4 THEN {x} || '-01-01' WHEN 7 THEN {x} || '-01' "
            f"ELSE substr({x}, 1, 10) END AS DATE)"
        )

    def leap(self, x: str) -> str:
        """A leap second (``23:59:60``, valid in a FHIR instant) as the last microsecond before
        the next minute: it then orders after every earlier instant of that minute."""
        ref = "$1" if self.name == "spark" else "\\1"
        return (
            f"CASE WHEN contains({x}, ':60') THEN regexp_replace({x}, "
            f"{self.lit(_LEAP)}, {self.lit(ref + ':59.999999')}) ELSE {x} END"
        )

    def to_ts(self, x: str) -> str:
        if self.name == "duckdb":
            # DuckDB's TIMESTAMPTZ cast applies the offset; timezone('UTC', ...) makes the
            # result independent of the session's TimeZone. No zone: read as UTC.
            zoned = f"(right({x}, 1) = 'Z' OR substr({x}, -6, 1) IN ('+', '-'))"
            return (
                f"CASE WHEN {x} IS NULL THEN NULL "
                f"WHEN length({x}) <= 10 THEN CAST({self.to_date(x)} AS TIMESTAMP) "
                f"WHEN {zoned} THEN timezone('UTC', try_cast({self.leap(x)} AS TIMESTAMPTZ)) "
                f"ELSE try_cast({self.leap(x)} AS TIMESTAMP) END"
            )
        x = self.leap(x)
        local = f"regexp_extract({x}, {self.lit(_LOCAL)}, 1)"
        zone = f"regexp_extract({x}, {self.lit(_ZONE)}, 1)"
        offset = (
            f"(CASE WHEN {zone} IN ('', 'Z') THEN 0 ELSE "
            f"(CASE WHEN substr({zone}, 1, 1) = '-' THEN -1 ELSE 1 END) * "
            f"(CAST(substr({zone}, 2, 2) AS INT) * 60 + CAST(substr({zone}, 5, 2) AS INT)) END)"
        )
        parsed = f"try_cast(replace({local}, 'T', ' ') AS TIMESTAMP)"
        return (
            f"CASE WHEN {x} IS NULL THEN NULL WHEN {local} = '' THEN "
            f"CAST({self.to_date(x)} AS TIMESTAMP) ELSE {self.minus_minutes(parsed, offset)} END"
        )

    def _part(self, arr: str, i: int) -> str:
        return f"try_element_at({arr}, {i})" if self.name == "spark" else f"{arr}[{i}]"

    def _plain_ref(self, ref: str) -> str:
        """The reference without a version (``/_history/n``), split on ``/``."""
        plain = (
            f"CASE WHEN contains({ref}, '/_history/') "
            f"THEN regexp_replace({ref}, '/_history/.*$', '') ELSE {ref} END"
        )
        fn = "split" if self.name == "spark" else "string_split"
        return f"{fn}({plain}, '/')"

    def ref_type(self, ref: str, rtype: str) -> str:
        # `Type/id`, `https://server/fhir/Type/id[/_history/n]`, `Type?search` (conditional).
        fn = "split" if self.name == "spark" else "string_split"
        conditional = self._part(f"{fn}(split_part({ref}, '?', 1), '/')", -1)
        from_ref = (
            f"CASE WHEN {ref} LIKE '#%' OR {ref} LIKE 'urn:%' THEN NULL "
            f"WHEN contains({ref}, '?') THEN {conditional} "
            f"ELSE {self._part(self._plain_ref(ref), -2)} END"
        )
        return f"coalesce(nullif({from_ref}, ''), {rtype})"

    def ref_id(self, ref: str) -> str:
        return (
            f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} LIKE '#%' THEN {ref} "
            f"WHEN {ref} LIKE 'urn:uuid:%' THEN substr({ref}, 10) "
            f"WHEN {ref} LIKE 'urn:%' THEN {ref} "
            f"WHEN contains({ref}, '?') THEN NULL "
            f"ELSE nullif({self._part(self._plain_ref(ref), -1)}, '') END"
        )


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")


def _raw(d: Dialect, col: Col, base: str) -> list[tuple[str, str]]:
    """(raw column name, expression) pairs the inner query selects for one column spec."""
    e = d.path(base, col.steps)
    n = col.name
    if col.kind in ("str", "bool", "dec", "int", "date"):
        return [(f"{n}__raw", e)]
    if col.kind == "join":
        return [(f"{n}__raw", d.join(e))]
    if col.kind in ("cc", "coding"):
        coding = d.first(d.field(e, "coding")) if col.kind == "cc" else e
        return [(f"{n}__{k}", d.field(coding, k)) for k in ("code", "system", "display")]
    if col.kind == "ref":
        return [(f"{n}__ref", d.field(e, "reference")), (f"{n}__rtype", d.field(e, "type"))]
    if col.kind == "period":
        return [(f"{n}__start", d.field(e, "start")), (f"{n}__end", d.field(e, "end"))]
    if col.kind == "qty":
        return [(f"{n}__{k}", d.field(e, k)) for k in ("value", "unit", "code", "system")]
    if col.kind == "money":
        return [(f"{n}__{k}", d.field(e, k)) for k in ("value", "currency")]
    raise ValueError(col.kind)


def _date_cols(d: Dialect, name: str, raw: str) -> list[tuple[str, str]]:
    r = d.q(raw)
    return [(name, r), (f"{name}_ts", d.to_ts(r)), (f"{name}_date", d.to_date(r))]


def _final(d: Dialect, col: Col) -> list[tuple[str, str]]:
    """(output column, expression over the raw columns) for one column spec."""
    n, q = col.name, d.q
    outs = [name for name, _ in col.outputs()]
    if col.kind in ("str", "bool", "dec", "int", "join"):
        return [(n, q(f"{n}__raw"))]
    if col.kind == "date":
        return _date_cols(d, n, f"{n}__raw")
    if col.kind in ("cc", "coding"):
        return list(zip(outs, [q(f"{n}__{k}") for k in ("code", "system", "display")], strict=True))
    if col.kind == "ref":
        ref, rtype = q(f"{n}__ref"), q(f"{n}__rtype")
        return [(f"{n}_type", d.ref_type(ref, rtype)), (f"{n}_id", d.ref_id(ref))]
    if col.kind == "period":
        return _date_cols(d, f"{n}_start", f"{n}__start") + _date_cols(d, f"{n}_end", f"{n}__end")
    if col.kind == "qty":
        return list(
            zip(outs, [q(f"{n}__{k}") for k in ("value", "unit", "code", "system")], strict=True)
        )
    if col.kind == "money":
        return list(zip(outs, [q(f"{n}__{k}") for k in ("value", "currency")], strict=True))
    raise ValueError(col.kind)


def _select(d: Dialect, items: list[tuple[str, str]]) -> str:
    return ",\n  ".join(f"{expr} AS {d.q(name)}" for name, expr in items)


def _typed(
    d: Dialect, items: list[tuple[str, str]], types: dict[str, str]
) -> list[tuple[str, str]]:
    """Cast every output to its declared warehouse type so both engines agree exactly."""
    from cmo.fhir.schema import SQL_TYPES

    i = 0 if d.name == "duckdb" else 1
    return [(name, f"CAST({expr} AS {SQL_TYPES[types[name]][i]})") for name, expr in items]


LU_COL = Col("last_updated", "date", "meta.lastUpdated")


def main_select(d: Dialect, res: Resource, source: str) -> str:
    """SELECT of the resource table's columns from ``source`` (s, source_file, source_line)."""
    raw = [("id", d.field("s", "id"))] + _raw(d, LU_COL, "s")
    final: list[tuple[str, str]] = [("id", d.q("id"))] + _final(d, LU_COL)
    for c in res.columns:
        raw += _raw(d, c, "s")
        final += _final(d, c)
    raw += [("source_file", "source_file"), ("source_line", "source_line")]
    final += [("source_file", d.q("source_file")), ("source_line", d.q("source_line"))]
    types = dict(res.main_outputs())
    return (
        f"SELECT\n  {_select(d, _typed(d, final, types))}\n"
        f"FROM (SELECT\n  {_select(d, raw)}\nFROM {source}) AS r"
    )


def _explode(d: Dialect, keys: str, arr: str, source: str) -> str:
    """SELECT ``keys``, one row per element ``e`` of ``arr`` with its 0-based position ``pos``."""
    if d.name == "spark":
        return f"SELECT {keys}, posexplode({arr}) AS (pos, e) FROM {source}"
    return f"SELECT {keys}, unnest({arr}) AS e, unnest(range(len({arr}))) AS pos FROM {source}"


def _nested_select(d: Dialect, res: Resource, child: Child, source: str) -> str:
    """A recursive element: every level down to child.depth, numbered in document order."""
    assert child.nested is not None
    arr = d.path("s", parse_path(child.path))
    keys = [f"p{k}" for k in range(1, child.depth + 1)]
    raw: list[tuple[str, str]] = []
    final: list[tuple[str, str]] = [(res.parent_key, d.q("pid"))]
    final += [("pos", d.q("pos")), ("depth", d.q("depth")), ("parent_pos", d.q("parent_pos"))]
    for c in child.columns:
        raw += _raw(d, c, "e")
        final += _final(d, c)
    levels, prev = [], f"(SELECT {d.field('s', 'id')} AS pid, s FROM {source})"
    for k in range(1, child.depth + 1):
        have = ", ".join(["pid", *keys[: k - 1]])
        elems = arr if k == 1 else d.field("e", child.nested)
        level = f"(SELECT {have}, pos AS p{k}, e FROM ({_explode(d, have, elems, prev)}) AS x{k})"
        pad = ", ".join(f"CAST(NULL AS BIGINT) AS {p}" for p in keys[k:])
        cols = ", ".join(["pid", *keys[:k], *([pad] if pad else []), f"{k} AS depth"])
        levels.append(f"SELECT {cols}, {_select(d, raw)} FROM {level} AS l{k}")
        prev = level
    order = ", ".join(f"{p} ASC NULLS FIRST" for p in keys)
    numbered = (
        f"SELECT *, row_number() OVER (PARTITION BY pid ORDER BY {order}) - 1 AS pos "
        f"FROM ({' UNION ALL '.join(levels)}) AS u"
    )
    # The parent of a level-k row is the level k-1 row with the same first k-1 positions.
    same = " AND ".join(
        f"(r.depth <= {i} OR q.{p} = r.{p})" for i, p in enumerate(keys[:-1], start=1)
    )
    parent = (
        f"SELECT r.*, q.pos AS parent_pos FROM ({numbered}) AS r LEFT JOIN ({numbered}) AS q "
        f"ON q.pid = r.pid AND q.depth = r.depth - 1 AND {same}"
    )
    types = dict(res.child_outputs(child))
    return f"SELECT\n  {_select(d, _typed(d, final, types))}\nFROM ({parent}) AS t"


def child_select(d: Dialect, res: Resource, child: Child, source: str) -> str:
    """SELECT of a child table: one row per element of the repeating element, with pos."""
    if child.nested:
        return _nested_select(d, res, child, source)
    arr = d.path("s", parse_path(child.path))
    pid = d.field("s", "id")
    exploded = _explode(d, f"{pid} AS pid", arr, source)
    raw: list[tuple[str, str]] = [("pid", "pid"), ("pos", "pos")]
    final: list[tuple[str, str]] = [(res.parent_key, d.q("pid")), ("pos", d.q("pos"))]
    if child.scalar:
        raw.append((f"{child.scalar}__raw", "e"))
        final.append((child.scalar, d.q(f"{child.scalar}__raw")))
    for c in child.columns:
        raw += _raw(d, c, "e")
        final += _final(d, c)
    types = dict(res.child_outputs(child))
    return (
        f"SELECT\n  {_select(d, _typed(d, final, types))}\n"
        f"FROM (SELECT\n  {_select(d, raw)}\nFROM ({exploded}) AS x) AS r"
    )


def last_updated_ts(d: Dialect, struct: str = "s") -> str:
    """meta.lastUpdated of the parsed struct as a UTC timestamp (the merge's version order)."""
    return d.to_ts(d.path(struct, parse_path("meta.lastUpdated")))


def create_table(d: Dialect, name: str, columns: list[tuple[str, str]]) -> str:
    from cmo.fhir.schema import SQL_TYPES

    i = 0 if d.name == "duckdb" else 1
    cols = ", ".join(f"{d.q(c)} {SQL_TYPES[t][i]}" for c, t in columns)
    return f"CREATE TABLE IF NOT EXISTS {d.q(name)} ({cols})"
