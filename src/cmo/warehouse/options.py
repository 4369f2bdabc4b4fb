"""Typer options shared by every command that opens the warehouse, so they read the same."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        envvar="CMO_WAREHOUSE",
        help="DuckDB file (or Spark warehouse folder). Default ./cmo-data/warehouse.duckdb.",
        show_default=False,
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="Analytics engine: duckdb (one machine) or spark (cluster)."),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master URL, e.g. spark://host:7077. Default local."),
]
SparkRemoteOpt = Annotated[
    str | None,
    typer.Option("--spark-remote", help="Spark Connect address, e.g. sc://host:15002."),
]


# How long a writer waits for another process to release the warehouse file (a running
# ingest or build): long enough for a demo-size build, short enough that a stuck process is
# reported rather than waited on forever. The web app never holds the file (it reads serving
# snapshots, cmo.warehouse.snapshot), so only other cmo commands make a writer wait.
LOCK_POLL_SECONDS = 0.5


def open_warehouse(
    warehouse: Path | None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_remote: str | None = None,
    read_only: bool = False,
    *,
    wait: float | None = None,
) -> Warehouse:
    """Open the warehouse from CLI options with a one-line error for an unknown engine.

    When another process holds the DuckDB file's lock, say so on one line (stderr) and try
    again until it is released or ``wait`` seconds (default ``CMO_LOCK_WAIT``, 300) have
    passed; then raise WarehouseLocked.
    """
    from cmo.config import settings
    from cmo.errors import WarehouseLocked
    from cmo.warehouse import ENGINES, connect

    if engine not in ENGINES:
        raise typer.BadParameter(
            f"engine must be one of {', '.join(ENGINES)}", param_hint="--engine"
        )
    if wait is None:
        wait = settings().lock_wait
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            return connect(
                warehouse,
                engine=engine,  # type: ignore[arg-type]
                spark_master=spark_master,
                spark_remote=spark_remote,
                read_only=read_only,
            )
        except WarehouseLocked as exc:
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"{exc.message} (waited {wait:.0f} s for it to be released)", exc.hint
                ) from None
            if not told:
                typer.echo(
                    f"waiting up to {wait:.0f} s for another cmo process to release the "
                    f"warehouse ({exc.message})",
                    err=True,
                )
                told = True
            time.sleep(LOCK_POLL_SECONDS)
