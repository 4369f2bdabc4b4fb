"""``cmo serve`` and ``cmo user ...``: run the web app and manage its users."""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

ROLE_HELP = (
    "cmo, quality_analyst, medical_staff_office, department_chair, safety_officer, clinician, "
    "board_member, compliance, or a role a domain app brings"
)
user_app = typer.Typer(help="Manage web users: add, unlock, list.", no_args_is_help=True)

WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        envvar="CMO_WAREHOUSE",
        show_default=False,
        help="DuckDB warehouse read by the app. Default ./cmo-data/warehouse.duckdb.",
    ),
]


def _env(warehouse: Path | None) -> None:
    if warehouse is not None:
        os.environ["CMO_WAREHOUSE"] = str(warehouse.resolve())


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    threads: Annotated[int, typer.Option(help="Worker threads.", min=1, max=64)] = 8,
    warehouse: WarehouseOpt = None,
    demo_users: Annotated[
        bool,
        typer.Option(
            "--demo-users",
            help="First create one demo user per role and print their "
            "one-time passwords (demo_cmo, demo_quality_analyst, ...).",
        ),
    ] = False,
) -> None:
    """Migrate the app database, collect static files, then serve the web app (waitress)."""
    _env(warehouse)
    import cmo.web as web

    web.migrate()
    from django.conf import settings

    _publish_if_missing(Path(settings.WAREHOUSE))
    if demo_users:
        web.demo_users(echo=typer.echo, departments=_first_department())
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    threading.Thread(target=_warm, name="cmo-warm", daemon=True).start()
    from waitress import serve as waitress_serve  # type: ignore[import-untyped]

    from cmo.web.wsgi import application

    if not Path(settings.WAREHOUSE).exists():
        typer.echo(
            f"note: no warehouse at {settings.WAREHOUSE} yet; pages will say what to run", err=True
        )
    typer.echo(f"cmo web app at http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        waitress_serve(
            application, host=host, port=port, threads=threads, ident="cmo", channel_timeout=60
        )
    except OSError as exc:  # port taken, address not on this machine, ...
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


def _publish_if_missing(path: Path) -> None:
    """The app reads serving snapshots only (cmo.warehouse.snapshot); a warehouse built before
    they existed gets its first one here, so its pages show without a rebuild."""
    from cmo.warehouse import snapshot
    from cmo.warehouse.options import open_warehouse

    if not path.is_file() or snapshot.current(path) is not None:
        return
    # The data is as of the file's last write, not of this start.
    built = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    wh = open_warehouse(path)
    try:
        snapshot.publish(wh, "serve", built_at=built)
    finally:
        wh.close()
    typer.echo(f"published a serving snapshot of {path}")


def _warm() -> None:
    """Build each domain's pages once in the background (``Domain.warm``)."""
    import time

    from cmo.web.registry import domains, resolve
    from cmo.web.warehouse import NoResults

    start = time.perf_counter()
    try:
        n = sum(resolve(d.warm)() for d in domains() if d.warm)
    except NoResults:
        return
    except Exception as exc:  # a page that fails here fails for its visitor too, with a trace
        typer.echo(f"note: warming the page cache failed: {exc}", err=True)
        return
    typer.echo(f"cache: {n} pages ready in {time.perf_counter() - start:.1f} s")


def _first_department() -> list[str]:
    """A department for the demo chair to own: the first one with results, if any."""
    from cmo.measures import api
    from cmo.web.warehouse import NoResults, door

    try:
        measures = door(api.list_measures)()
        rows = (
            door(api.results)(measures[0]["measure_id"], period_type="year", level="department")
            if measures
            else []
        )
    except NoResults:
        return []
    return sorted({str(r["unit_id"]) for r in rows})[:1]


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {ROLE_HELP}.")],
    department: Annotated[
        list[str] | None,
        typer.Option("--department", help="Department id a chair may see (repeat for several)."),
    ] = None,
    token: Annotated[
        bool, typer.Option("--token", help="Also issue an API token (service accounts).")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Reset an existing user: new one-time password, role and departments."
        ),
    ] = False,
) -> None:
    """Create a user with ROLE (or reset one with --reset); prints a one-time password."""
    import cmo.web as web

    web.setup()
    from cmo.web.roles import all_roles

    if role not in all_roles():
        raise typer.BadParameter(
            f"unknown role {role!r}; expected one of: {', '.join(all_roles())}",
            param_hint="--role",
        )
    web.migrate()
    from django.contrib.auth.models import User

    from cmo.errors import CmoError

    if not reset and User.objects.filter(username=name).exists():
        raise CmoError(f"user {name!r} exists; use --reset to give it a new password and role")
    _, pw, raw = web.add_user(name, role, departments=department or (), token=token)
    typer.echo(f"user {name} ({role}) one-time password: {pw}")
    if raw:
        typer.echo(f"API token (shown once): {raw}")


@user_app.command("unlock")
def user_unlock(name: Annotated[str, typer.Argument(help="User name to unlock.")]) -> None:
    """Clear the failed-login lockout of a user."""
    import cmo.web as web

    web.setup()
    from axes.utils import reset

    n = reset(username=name)
    typer.echo(f"unlocked {name} ({n} lockout record{'s' if n != 1 else ''} cleared)")


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    import cmo.web as web

    web.migrate()
    from django.contrib.auth.models import User

    for u in User.objects.order_by("username").prefetch_related("groups"):
        roles = ",".join(g.name for g in u.groups.all()) or "-"
        typer.echo(f"{u.username}\t{roles}\t{'active' if u.is_active else 'inactive'}")


def register(app: typer.Typer) -> None:
    app.command("serve", help="Migrate, then serve the web app at http://HOST:PORT/.")(serve)
    app.add_typer(user_app, name="user")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(typer.main.get_command(user_app)())
