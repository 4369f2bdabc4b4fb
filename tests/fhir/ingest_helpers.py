"""Small query helpers for the ingest tests (a uniquely named module: tests/fhir has no
__init__.py, because a test package named ``fhir`` would shadow the installed fhir.resources)."""

from __future__ import annotations


def rows(wh, sql: str) -> list[tuple]:
    """Run SQL on a DuckDB warehouse and return all rows."""
    return wh.sql(sql).fetchall()


def one(wh, sql: str) -> dict:
    """The single row of a query as a dict (fails when there is not exactly one)."""
    cur = wh.sql(sql)
    got = cur.fetchall()
    assert len(got) == 1, f"expected one row, got {len(got)}: {sql}"
    names = [d[0] for d in cur.description]
    return dict(zip(names, got[0], strict=True))


def write_lines(path, lines: list[bytes]):
    """``lines`` as an NDJSON file (each ended by ``\\n``); returns the path."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def quarantine_reasons(wh) -> dict[tuple[str, int], str]:
    """{(file name, line): reason} of ``fhir__quarantine``, on either engine."""
    from pathlib import Path

    q = wh.table("fhir__quarantine").to_pandas()
    return {(Path(f).name, int(n)): r for f, n, r in zip(q.file, q.line, q.reason, strict=True)}


def assert_adds_up(result, lines: int) -> None:
    """The ingest contract: the run's counts account for every one of the input's lines."""
    c = result.counts
    assert c is not None and c.lines == lines, c
    assert c.loaded + c.superseded + c.other + c.quarantined + c.blank == lines
