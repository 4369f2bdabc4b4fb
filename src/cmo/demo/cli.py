"""``cmo demo``: generate the synthetic health system, ingest it and run the analytics.

Heavy modules are imported inside the commands so ``cmo --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

from cmo.demo import DEFAULT_MONTHS, DEFAULT_PATIENTS, DEFAULT_SEED
from cmo.warehouse.options import (
    EngineOpt,
    SparkMasterOpt,
    SparkRemoteOpt,
    WarehouseOpt,
    open_warehouse,
)

DEFAULT_START = date(2023, 1, 1)
DEFAULT_OUT = Path("cmo-data") / "demo"

demo_app = typer.Typer(
    name="demo",
    help="Synthetic health system: generate FHIR R4 Bulk data with planted signals, ingest it "
    "and run every analytics step. Without a subcommand: the whole demo at the default size.",
    invoke_without_command=True,
    no_args_is_help=False,
)

PatientsOpt = Annotated[
    int, typer.Option("--patients", "-n", min=1, help="Number of patients to generate.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same arguments, same bytes.")]
MonthsOpt = Annotated[
    int, typer.Option("--months", min=7, help="Months of activity from --start (at least 7).")
]


def _parse_start(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(
            f"expected YYYY-MM-DD, got {value!r}", param_hint="--start"
        ) from None


StartOpt = Annotated[
    str,
    typer.Option(
        "--start", help="Start of the data window (YYYY-MM-DD; the window starts on the 1st)."
    ),
]


def _generate(out: Path, patients: int, seed: int, start: date, months: int) -> Path:
    from cmo.demo.generate import generate

    began = time.perf_counter()
    manifest = generate(out, patients=patients, seed=seed, start=start, months=months)
    seconds = time.perf_counter() - began
    typer.echo(f"generated {patients:,} patients into {out} in {seconds:.1f} s ({manifest.name})")
    return manifest


@demo_app.command("generate")
def generate_cmd(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder for the FHIR Bulk export.")
    ] = DEFAULT_OUT,
    patients: PatientsOpt = DEFAULT_PATIENTS,
    seed: SeedOpt = DEFAULT_SEED,
    start: StartOpt = DEFAULT_START.isoformat(),
    months: MonthsOpt = DEFAULT_MONTHS,
) -> None:
    """Write a FHIR R4 Bulk Data export (manifest.json, <Type>.ndjson) and signals.json."""
    _generate(out, patients, seed, _parse_start(start), months)


@demo_app.command("check")
def check_cmd(
    folder: Annotated[Path, typer.Argument(help="A folder written by `cmo demo generate`.")],
) -> None:
    """Print crude rates (mortality, readmission, LOS) and the planted signals from the NDJSON."""
    if not (folder / "manifest.json").is_file():
        typer.echo(f"error: no manifest.json in {folder}", err=True)
        raise typer.Exit(2)
    from cmo.demo.crude import crude_rates, format_report

    typer.echo(format_report(crude_rates(folder)))


@demo_app.callback()
def demo_main(
    ctx: typer.Context,
    patients: PatientsOpt = DEFAULT_PATIENTS,
    seed: SeedOpt = DEFAULT_SEED,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where the demo export is written.")
    ] = DEFAULT_OUT,
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="Create demo users and serve the web app when done."
        ),
    ] = True,
    host: Annotated[str, typer.Option("--host", help="Address for the web app.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port for the web app.")] = 8000,
) -> None:
    """Generate the demo health system (if not there yet), ingest it, build the measures, create
    one demo user per role and serve the web app."""
    if ctx.invoked_subcommand is not None:
        return
    from cmo.demo.generate import existing_export

    start, months = DEFAULT_START, DEFAULT_MONTHS
    if existing_export(out, patients, seed, start, months):
        typer.echo(f"demo export already in {out} (same arguments): not regenerating")
    else:
        _generate(out, patients, seed, start, months)
    from cmo import sync
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run as build_measures
    from cmo.warehouse.snapshot import publish

    wh = open_warehouse(warehouse, engine, spark_master, spark_remote)
    try:
        paths = sorted(out.glob("*.ndjson"))
        result = ingest(paths, wh, progress=None)
        typer.echo(
            f"ingested {sum(result.rows.values()):,} rows from {len(paths)} files "
            f"({result.quarantined} quarantined) in {result.seconds:.1f} s"
        )
        build = build_measures(wh, progress=None)
        typer.echo(
            f"built measures: {sum(build.rows.values()):,} rows in {build.total_seconds:.1f} s"
        )
        sync.run(wh, echo=typer.echo)  # the directory first: the domains' seeds link to it
        chair_departments = _first_department(wh)
        where = wh.path
        publish(wh, "demo")  # the web's read-only copy (cmo.warehouse.snapshot)
    finally:
        wh.close()
    if engine == "duckdb" and where is not None:
        # Every domain's demo data (credential files, safety events, ...), then the sync again
        # so their app__ tables reach the warehouse, and the build again so the measures that
        # read them (the safety measures: app__safety_event) have their rows.
        if sync.seed_demo(where, echo=typer.echo):
            wh = open_warehouse(warehouse, engine, spark_master, spark_remote)
            try:
                sync.run(wh, echo=typer.echo)
                build = build_measures(wh, progress=None)
                typer.echo(f"built measures with the app data in {build.total_seconds:.1f} s")
                publish(wh, "demo")  # again, with the domains' app__ tables
            finally:
                wh.close()
    else:
        typer.echo("demo seeding of the web domains needs the DuckDB engine: skipped")
    typer.echo(f"the planted signals to look for are in {out / 'signals.json'}")
    sys.stdout.flush()
    if not serve:
        typer.echo("next: `cmo serve --demo-users`, or `cmo measures list`")
        return
    import cmo.web

    cmo.web.demo_users(departments=chair_departments, echo=typer.echo)
    sys.stdout.flush()
    cmo.web.serve(host=host, port=port, warehouse=warehouse)


def _first_department(wh: Warehouse) -> list[str]:
    """The demo department chair's scope: the first department with results."""
    from cmo.measures import api

    rows = api.results(wh, "IMORT", period_type="year", level="department")
    return sorted({r["unit_id"] for r in rows})[:1]


def register(app: typer.Typer) -> None:
    """Attach ``cmo demo`` to the main command."""
    app.add_typer(demo_app, name="demo")
