"""``cmo measures run|list|model|export``. Heavy imports stay inside the commands."""

from __future__ import annotations

import json
import sys
from datetime import date
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

app = typer.Typer(
    name="measures",
    help="Outcomes engine: risk-adjusted mortality, readmission and length of stay.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add ``cmo measures ...`` to the root command."""
    root.add_typer(app, name="measures")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date YYYY-MM-DD, got {value!r}", param_hint=option
        ) from None


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command("run")
def run_cmd(
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Data end YYYY-MM-DD (default: latest encounter end)."),
    ] = None,
    model_file: Annotated[
        Path | None,
        typer.Option("--model-file", help="Reuse saved models (JSON from --save-models)."),
    ] = None,
    save_models: Annotated[
        Path | None,
        typer.Option("--save-models", help="Write the fitted models to this JSON file."),
    ] = None,
    reference_start: Annotated[
        str | None,
        typer.Option("--reference-start", help="Fit models on discharges from this date."),
    ] = None,
    reference_end: Annotated[
        str | None,
        typer.Option("--reference-end", help="Fit models on discharges up to this date."),
    ] = None,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync/--no-sync",
            help="After the build, sync the web app's directory and export app tables "
            "(app__*) into the warehouse (needs the web extra).",
        ),
    ] = True,
) -> None:
    """Build core__* and quality__* tables: stays, comorbidity, DRG, measures, models, results."""
    end = _date(as_of, "--as-of")
    ref_start = _date(reference_start, "--reference-start")
    ref_end = _date(reference_end, "--reference-end")
    if (ref_start is None) != (ref_end is None):
        raise typer.BadParameter(
            "give both --reference-start and --reference-end", param_hint="--reference-start"
        )
    models = None
    if model_file is not None:
        if not model_file.is_file():
            _fail(f"model file not found: {model_file}")
        try:
            models = json.loads(model_file.read_text())
        except json.JSONDecodeError as exc:
            _fail(f"model file is not JSON: {exc}")
    from cmo.measures.build import run
    from cmo.warehouse.snapshot import publish

    wh = open_warehouse(warehouse, engine, spark_master, spark_remote)
    try:
        if not wh.exists("fhir__encounter"):
            _fail("no fhir__encounter table: run `cmo ingest PATH` (or `cmo demo`) first")
        wh.verify()  # writable, checksums hold: a damaged file is said before the build
        reference = (ref_start, ref_end) if ref_start and ref_end else None
        result = run(wh, as_of=end, models=models, reference=reference)  # type: ignore[arg-type]
        if sync:
            from cmo import sync as app_sync

            app_sync.run(wh, echo=typer.echo)
        publish(wh, "measures run")  # the web's read-only copy (cmo.warehouse.snapshot)
    finally:
        wh.close()
    if save_models is not None:
        save_models.write_text(json.dumps(result.models, indent=1))
    stays = result.rows.get("core__inpatient_stay", 0)
    typer.echo(
        f"measures: {stays} stays, {result.rows.get('quality__measure_long', 0)} long rows, "
        f"{result.rows.get('quality__measure_result', 0)} results, "
        f"{result.rows.get('quality__signal', 0)} signals; data end {result.data_end}; "
        f"{result.total_seconds:.1f} s"
    )


@app.command("list")
def list_cmd(warehouse: WarehouseOpt = None) -> None:
    """List the registered measures (id, kind, direction, title, citation)."""
    from cmo.measures.spec import registry

    del warehouse  # the registry is code; the option is accepted for symmetry
    for mid, m in registry().items():
        s = m.spec
        adj = "risk-adjusted" if s.risk_adjusted else "crude"
        typer.echo(f"{mid:8} {s.kind:10} {s.direction:6} {adj:13} {s.title} — {s.citation}")


@app.command("model")
def model_cmd(
    measure: Annotated[str, typer.Argument(help="Measure id, e.g. IMORT, MORT30, READM30.")],
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole card as JSON.")] = False,
) -> None:
    """Show a risk model's card: n, events, C-statistic, calibration, coefficients."""
    from cmo.errors import UnknownName
    from cmo.measures import api
    from cmo.measures.spec import registry

    if measure.upper() not in registry():
        raise UnknownName("measure", measure, list(registry()))
    wh = open_warehouse(warehouse, engine, read_only=engine == "duckdb")
    try:
        card = api.model_card(wh, measure.upper())
    finally:
        wh.close()
    if card is None:
        _fail(
            f"no model card for {measure!r}: run `cmo measures run` (risk-adjusted measures only)"
        )
        return
    if as_json:
        typer.echo(json.dumps(card, indent=1, default=str))
        return
    _print_card(card)


def _num(value: float | None) -> str:
    return "inf" if value is None else f"{value:.2f}"


def _print_card(card: dict) -> None:
    c = card.get("c_statistic")
    typer.echo(
        f"{card['measure_id']}: n={card['n']}, events={card['events']:.0f}, "
        f"C-statistic={'n/a' if c is None else f'{c:.3f}'}, window={card['window']}, "
        f"fit={card['method']}"
    )
    typer.echo("calibration (decile: n, observed, expected)")
    for d in card["calibration"]:
        typer.echo(f"  {d['decile']:2}: {d['n']:6} {d['observed']:8.0f} {d['expected']:10.1f}")
    typer.echo("coefficients (odds ratio, 95% CI)")
    for co in card["coefficients"]:
        lo, hi = co["ci_low"], co["ci_high"]
        ci = f"{_num(lo)}-{_num(hi)}" if lo is not None or hi is not None else "n/a"
        odds = "n/a" if co["odds_ratio"] is None else f"{co['odds_ratio']:.3f}"
        typer.echo(f"  {co['term']:32} {odds:>8}  {ci}")


@app.command("export")
def export_cmd(
    fmt: Annotated[
        str,
        typer.Option("--format", help="measurereport (FHIR NDJSON), csv or parquet."),
    ] = "measurereport",
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path(
        "cmo-data/export"
    ),
    measure: Annotated[str | None, typer.Option("--measure", help="Only this measure id.")] = None,
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
) -> None:
    """Export quality__measure_result as FHIR MeasureReport NDJSON, CSV or Parquet."""
    from cmo.errors import UnknownName
    from cmo.measures.export import FORMATS, export
    from cmo.measures.spec import registry

    if measure is not None and measure.upper() not in registry():
        raise UnknownName("measure", measure, list(registry()))
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    wh = open_warehouse(warehouse, engine, read_only=engine == "duckdb")
    try:
        paths = export(wh, fmt, out, measure_id=measure)
    except LookupError as exc:
        _fail(str(exc))
        return
    finally:
        wh.close()
    for p in paths:
        print(p, file=sys.stdout)
