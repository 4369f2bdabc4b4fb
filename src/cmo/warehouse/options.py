"""Typer options shared by every command that opens the warehouse, so they read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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


def open_warehouse(
    warehouse: Path | None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_remote: str | None = None,
    read_only: bool = False,
):  # type: ignore[no-untyped-def]
    """Open the warehouse from CLI options with a one-line error for an unknown engine."""
    from cmo.warehouse import ENGINES, connect

    if engine not in ENGINES:
        raise typer.BadParameter(
            f"engine must be one of {', '.join(ENGINES)}", param_hint="--engine"
        )
    return connect(
        warehouse,
        engine=engine,  # type: ignore[arg-type]
        spark_master=spark_master,
        spark_remote=spark_remote,
        read_only=read_only,
    )
