"""``cmo measures run|list|model (show|list|refit)|export``. Heavy imports stay inside the
commands."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

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
        typer.Option(
            "--reference-start",
            help="Fit new model versions on discharges from this date (as `model refit "
            "--window`; default: the stored models, else the first 24 months).",
        ),
    ] = None,
    reference_end: Annotated[
        str | None,
        typer.Option("--reference-end", help="Fit new model versions up to this date."),
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
    """Build core__* and quality__* tables: stays, comorbidity, DRG, measures, models, results.

    Risk-adjusted measures are scored with their frozen reference model
    (quality__reference_model); the first build fits and stores one on the first 24 months."""
    end = _date(as_of, "--as-of")
    ref_start = _date(reference_start, "--reference-start")
    ref_end = _date(reference_end, "--reference-end")
    if (ref_start is None) != (ref_end is None):
        raise typer.BadParameter(
            "give both --reference-start and --reference-end", param_hint="--reference-start"
        )
    reference = (ref_start, ref_end) if ref_start and ref_end else None
    result = _build(
        warehouse, engine, spark_master, spark_remote, end, model_file, reference, sync, refit=None
    )
    if save_models is not None:
        save_models.write_text(json.dumps(result.models, indent=1))
    _summary(result)


def _build(
    warehouse: Path | None,
    engine: str,
    spark_master: str | None,
    spark_remote: str | None,
    end: date | None,
    model_file: Path | None,
    reference: tuple[date, date] | None,
    sync: bool,
    refit: list[str] | None,
) -> Any:
    """Open the warehouse, build (``cmo.measures.build.run``), sync and publish; the stored
    reference models are reused, refitted for ``refit``, and a stale one stops the build."""
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
        if sync and wh.exists("core__inpatient_stay"):
            # The app tables first (app__safety_event), so this build counts the events
            # reported since the last run; the sync after it updates the directory.
            from cmo import sync as app_sync

            app_sync.run(wh, echo=typer.echo)
        result = run(
            wh,
            as_of=end,
            models=models,
            reference=reference,
            refit=refit,
            on_stale="error",
        )
        for note in result.notes:
            typer.echo(f"model {note}")
        for note in result.inputs:
            typer.echo(note)
        if sync:
            from cmo import sync as app_sync

            app_sync.run(wh, echo=typer.echo)
        publish(wh, "measures run")  # the web's read-only copy (cmo.warehouse.snapshot)
    finally:
        wh.close()
    return result


def _summary(result: Any) -> None:
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


class _ModelGroup(TyperGroup):
    """``cmo measures model MEASURE`` (the card, as before) is ``cmo measures model show
    MEASURE``: a first word that is not a sub-command is a measure id."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


model_app = typer.Typer(
    name="model",
    cls=_ModelGroup,
    help="Risk models: show a card, list the stored reference-model versions, refit.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")


def _model_key(measure: str) -> str:
    """A measure id (or IMORT/ICU, the ICU model) checked against the registry."""
    from cmo.errors import UnknownName
    from cmo.measures import icu
    from cmo.measures.spec import registry

    key = measure.upper()
    if key != icu.KEY and key not in registry():
        raise UnknownName("measure", measure, [*registry(), icu.KEY])
    return key


@model_app.command("show")
def model_cmd(
    measure: Annotated[
        str, typer.Argument(help="Measure id, e.g. IMORT, MORT30, READM30, or IMORT/ICU.")
    ],
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole card as JSON.")] = False,
) -> None:
    """Show a risk model's card: version, n, events, C-statistic, calibration, out-of-time
    validation, coefficients."""
    from cmo.measures import api

    measure = _model_key(measure)
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


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _print_card(card: dict) -> None:
    c = card.get("c_statistic")
    typer.echo(
        f"{card['measure_id']}: n={card['n']}, events={card['events']:.0f}, "
        f"C-statistic={'n/a' if c is None else f'{c:.3f}'}, window={card['window']}, "
        f"fit={card['method']}"
    )
    if card.get("model_version") is not None:
        typer.echo(
            f"reference model version {card['model_version']}, hash "
            f"{str(card.get('model_hash'))[:12]}, fitted {card.get('fitted_at')}"
        )
    oot = card.get("out_of_time")
    if oot is not None:
        if oot.get("n"):
            typer.echo(
                f"out of time ({oot.get('period_start')} to {oot.get('period_end')}): "
                f"n={oot['n']}, events={oot['events']:.0f}, O/E={_fmt(oot.get('oe'), 2)}, "
                f"C-statistic={_fmt(oot.get('c_statistic'))}, calibration slope="
                f"{_fmt(oot.get('slope'), 2)} ({_fmt(oot.get('slope_low'), 2)}-"
                f"{_fmt(oot.get('slope_high'), 2)}), intercept={_fmt(oot.get('intercept'), 2)} "
                f"({_fmt(oot.get('intercept_low'), 2)}-{_fmt(oot.get('intercept_high'), 2)})"
            )
        else:
            typer.echo(f"out of time: {oot.get('note', 'no data after the fitting window')}")
    typer.echo("calibration (decile: n, observed, expected)")
    for d in card["calibration"]:
        typer.echo(f"  {d['decile']:2}: {d['n']:6} {d['observed']:8.0f} {d['expected']:10.1f}")
    typer.echo("coefficients (odds ratio, 95% CI)")
    for co in card["coefficients"]:
        lo, hi = co["ci_low"], co["ci_high"]
        ci = f"{_num(lo)}-{_num(hi)}" if lo is not None or hi is not None else "n/a"
        odds = "n/a" if co["odds_ratio"] is None else f"{co['odds_ratio']:.3f}"
        typer.echo(f"  {co['term']:32} {odds:>8}  {ci}")


@model_app.command("list")
def model_list_cmd(
    measure: Annotated[
        str | None, typer.Option("--measure", help="Only this measure (or IMORT/ICU).")
    ] = None,
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
) -> None:
    """List the stored reference-model versions (quality__reference_model); the newest version
    of each model is the one builds score with."""
    from cmo.measures import reference

    key = _model_key(measure) if measure else None
    wh = open_warehouse(warehouse, engine, read_only=engine == "duckdb")
    try:
        frame = reference.versions(wh, key)
    finally:
        wh.close()
    if frame.empty:
        typer.echo("no stored reference models: `cmo measures run` fits and stores them")
        return
    latest = frame.groupby("measure_id")["version"].transform("max")
    typer.echo(
        f"{'model':10} {'ver':>3}  {'window':23}  {'n_fit':>7}  hash          fitted"
        "               reason"
    )
    for row, newest in zip(frame.itertuples(), frame["version"] == latest, strict=True):
        mark = "*" if newest else " "
        typer.echo(
            f"{row.measure_id:10} {row.version:>3}{mark} {row.window_start} to {row.window_end}"
            f"  {row.n_fit:>7}  {str(row.model_hash)[:12]}  {str(row.fitted_at)[:19]}  "
            f"{row.reason}"
        )
    typer.echo("* in use")


def _window_opt(value: str | None) -> tuple[date, date] | None:
    if value is None:
        return None
    start, sep, end = value.partition(":")
    if not sep:
        raise typer.BadParameter(
            "expected START:END (YYYY-MM-DD:YYYY-MM-DD)", param_hint="--window"
        )
    a, b = _date(start, "--window"), _date(end, "--window")
    assert a is not None and b is not None
    if b < a:
        raise typer.BadParameter(
            f"the window ends before it starts: {value}", param_hint="--window"
        )
    return a, b


@model_app.command("refit")
def model_refit_cmd(
    measure: Annotated[
        str | None,
        typer.Option("--measure", help="Refit only this measure (IMORT includes its ICU model)."),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Fit on discharges START:END (YYYY-MM-DD:YYYY-MM-DD); default: the first "
            "24 months of discharges.",
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="Sync the web app after the build.")
    ] = True,
) -> None:
    """Fit and store a new version of the reference models (old versions are kept), then
    rebuild the results with it."""
    from cmo.measures.spec import registry

    win = _window_opt(window)
    risk_ids = [mid for mid, m in registry().items() if m.risk_model]
    if measure is not None:
        key = _model_key(measure).split("/")[0]
        if key not in risk_ids:
            _fail(f"{measure} has no risk model (risk-adjusted: {', '.join(risk_ids)})")
        targets = [key]
    else:
        targets = risk_ids
    result = _build(
        warehouse, engine, spark_master, spark_remote, None, None, win, sync, refit=targets
    )
    _summary(result)


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
