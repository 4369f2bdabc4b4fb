"""``cmo ingest``: the command. Heavy imports happen inside the function (fast ``cmo --help``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cmo.warehouse.options import (
    EngineOpt,
    SparkMasterOpt,
    SparkRemoteOpt,
    WarehouseOpt,
    open_warehouse,
)


def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Bulk Data export folders (manifest.json and/or *.ndjson[.gz]), NDJSON files, "
            "FHIR Bundle JSON files or folders of them.",
            show_default=False,
        ),
    ],
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
) -> None:
    """Ingest a FHIR R4 Bulk Data export into typed fhir__* warehouse tables.

    Bad lines go to fhir__quarantine with file and line number; every good line loads. Re-running
    is safe: resources merge by id (latest meta.lastUpdated wins, then the later file).
    """
    from cmo.fhir.ingest import IngestError, ingest
    from cmo.warehouse.snapshot import publish

    # A user error (cmo.errors.CmoError) reaches `cmo` as one line and a non-zero exit.
    missing = [p for p in paths if not p.exists()]
    if missing:  # before the warehouse is opened: a typo creates no file
        raise IngestError(f"no such file or folder: {missing[0]}")
    wh = open_warehouse(warehouse, engine, spark_master, spark_remote)
    try:
        result = ingest(paths, wh)
        publish(wh, "ingest")  # the web's read-only copy (cmo.warehouse.snapshot)
    finally:
        wh.close()
    print_summary(result, wh)


def print_summary(result, wh) -> None:  # type: ignore[no-untyped-def]
    """Rows per table, quarantined lines and other types: a Rich table on a terminal."""
    where = wh.path
    head = (
        f"ingested {result.files} file(s) in {result.seconds:.1f} s into {where} "
        f"({wh.engine}): {sum(result.rows.values())} rows, {result.quarantined} quarantined"
    )
    counts = f"  lines read: {result.counts.summary()}" if result.counts else None
    if not sys.stdout.isatty():
        typer.echo(head)
        if counts:
            typer.echo(counts)
        for table, n in sorted(result.rows.items()):
            typer.echo(f"  {table}: {n}")
        for rtype, n in sorted(result.other_types.items()):
            typer.echo(f"  other type {rtype}: {n} (not loaded)")
        if result.quarantined:
            typer.echo(f"  quarantined lines: {result.quarantined} (see fhir__quarantine)")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=head, title_justify="left")
    table.add_column("table")
    table.add_column("rows written", justify="right")
    for name, n in sorted(result.rows.items()):
        table.add_row(name, f"{n:,}")
    for rtype, n in sorted(result.other_types.items()):
        table.add_row(f"[dim]other type {rtype} (not loaded)[/dim]", f"[dim]{n:,}[/dim]")
    if result.quarantined:
        table.add_row("[red]fhir__quarantine[/red]", f"[red]{result.quarantined:,}[/red]")
    Console().print(table)
    if counts:
        Console().print(counts)


def register(app: typer.Typer) -> None:
    app.command(name="ingest")(ingest_command)
