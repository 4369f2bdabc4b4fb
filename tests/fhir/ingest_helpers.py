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
