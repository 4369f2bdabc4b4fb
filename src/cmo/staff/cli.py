"""``cmo staff screen`` and ``cmo staff expiring``: the office's monthly and daily jobs."""

from __future__ import annotations

import contextlib
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

staff_app = typer.Typer(
    name="staff",
    help="Medical staff office: exclusion screening and expiring credentials.",
    no_args_is_help=True,
)


class Format(StrEnum):
    text = "text"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="text (for people) or json.")]


def _mail_to_stderr() -> contextlib.AbstractContextManager[object]:
    """Django's console email backend writes to stdout; keep stdout for the report (JSON)."""
    return contextlib.redirect_stdout(sys.stderr)


def _django() -> None:
    import cmo.web as web

    web.migrate()


@staff_app.command("screen")
def screen(
    leie: Annotated[
        Path, typer.Option("--leie", help="OIG LEIE full file (UPDATED.csv).", show_default=False)
    ],
    sam: Annotated[
        Path | None, typer.Option("--sam", help="SAM.gov exclusions extract (CSV).")
    ] = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Screen every directory practitioner against the OIG LEIE (and SAM.gov) exclusions.

    Matches by NPI (confirmed), name + date of birth (probable) and name alone (possible,
    needs review). An unreadable or empty file fails the run: nobody is marked clear.
    """
    _django()
    from cmo.staff.services import run_screening

    with _mail_to_stderr():
        run, hits = run_screening(leie, sam, by="cli")
    if fmt is Format.json:
        sys.stdout.write(json.dumps([h.as_json() for h in hits], indent=2) + "\n")
        return
    typer.echo(
        f"screened {run.practitioners} practitioners against {run.leie_rows:,} LEIE rows"
        + (f" and {run.sam_rows:,} SAM rows" if sam else "")
        + f" (LEIE sha256 {run.leie_sha256[:12]}…): {len(hits)} candidate match(es)"
    )
    for h in hits:
        state = "ACTIVE" if h.active else "not active (reinstated/ended)"
        typer.echo(
            f"  {h.match_on:<8} score {h.score:5.1f}  practitioner {h.practitioner_id} "
            f"NPI {h.npi or '-'}  {h.row.get('LASTNAME') or h.row.get('Last')}, "
            f"{h.row.get('FIRSTNAME') or h.row.get('First')}  {state}"
            + (f"  [{h.waiver}]" if h.waiver else "")
        )


@staff_app.command("expiring")
def expiring(
    days: Annotated[int, typer.Option("--days", min=0, help="Look ahead this many days.")] = 90,
    fmt: FormatOpt = Format.text,
) -> None:
    """List credentials expiring within DAYS days (and expired ones) and mail the list to the
    office; put the privileges of an expired licence or DEA on "suspended - pending" for the
    office to confirm (mailed too). Meant for a daily cron."""
    _django()
    from django.utils import timezone

    from cmo.staff.services import apply_expiry_holds, expirables, mail_digest

    today = timezone.localdate()
    with _mail_to_stderr():
        held = apply_expiry_holds(today)
        items = expirables(today, days)
        mail_digest(items, days, today)
    if fmt is Format.json:
        out: dict[str, Any] = {
            "today": today.isoformat(),
            "days": days,
            "items": [i.as_json() for i in items],
            "new_holds": [
                {"practitioner_id": g.file.practitioner_id, "privilege": g.privilege.name}
                for g in held
            ],
        }
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return
    typer.echo(f"{len(items)} item(s) expired or expiring within {days} days of {today}:")
    for i in items:
        typer.echo(
            f"  {i.window:>7}  {i.expires}  {i.practitioner:<30} {i.kind:<11} {i.label}"
            f"  [{', '.join(i.department_names) or 'no department'}]"
        )
    if held:
        typer.echo(f"{len(held)} privilege(s) now suspended - pending office confirmation")


@staff_app.command("demo")
def demo(
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", help="The demo warehouse (default: the configured one)."),
    ] = None,
) -> None:
    """Seed the office's demo (credential files, privileges, applications, a screening run of
    the shipped LEIE-format file) from a demo warehouse. ``cmo demo`` calls the same function."""
    _django()
    from cmo.config import settings
    from cmo.staff.demo import seed

    path = warehouse or settings().warehouse
    if not path.exists():
        from cmo.errors import InputError

        raise InputError(f"no warehouse at {path}", hint="run `cmo demo --no-serve` first")
    seed(path, echo=typer.echo)


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")
