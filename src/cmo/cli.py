"""The ``cmo`` command. Each domain registers its own commands from its ``cli.py``.

Domain CLI modules import their heavy dependencies (Ibis, Spark, Django) inside the command
functions, so ``cmo --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from cmo import __version__
from cmo.errors import CmoError

app = typer.Typer(
    name="cmo",
    help="cmo: quality, safety and medical-staff analytics for the Chief Medical Officer's office.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Modules that expose ``register(app)``; one per domain (ARCHITECTURE.md §3).
DOMAINS = (
    "cmo.fhir.cli",
    "cmo.demo.cli",
    "cmo.measures.cli",
    "cmo.stats.cli",
    "cmo.web.cli",
    "cmo.staff.cli",
    "cmo.review.cli",
    "cmo.board.cli",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cmo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (for bug reports)."
    ),
) -> None:
    """cmo: quality, safety and medical-staff analytics for the Chief Medical Officer's office."""


for _module in DOMAINS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a domain not built yet
        if exc.name != _module:
            raise
        continue
    _mod.register(app)


def run(argv: list[str] | None = None) -> None:
    """The console entry point: ``app`` with user errors as one line and an exit code.

    A :class:`cmo.errors.CmoError` prints ``cmo: error: <message>`` (and its hint) on stderr
    and exits with its code; ``--debug`` shows the traceback instead. Other exceptions are bugs
    and keep their traceback.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="cmo")
    except CmoError as exc:
        if "--debug" in args:
            raise
        typer.echo(f"cmo: error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"  {exc.hint}", err=True)
        raise SystemExit(exc.exit_code) from None
