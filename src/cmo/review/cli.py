"""``cmo review oppe``, ``cmo review fppe`` and ``cmo review intake``: the review jobs."""

from __future__ import annotations

import contextlib
import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from cmo.errors import InputError

review_app = typer.Typer(
    name="review",
    help="Practitioner review: OPPE cycles, FPPEs and peer-review intake.",
    no_args_is_help=True,
)


class Format(StrEnum):
    text = "text"
    json = "json"


class Status(StrEnum):
    proposed = "proposed"
    active = "active"
    declined = "declined"
    closed = "closed"


FormatOpt = Annotated[Format, typer.Option("--format", help="text (for people) or json.")]


def _django() -> None:
    import cmo.web as web

    web.migrate()


@review_app.command("oppe")
def oppe(
    cycle: Annotated[
        str, typer.Option("--cycle", help="YYYYH1, YYYYH2 or YYYY (a 12-month cycle).")
    ],
    fmt: FormatOpt = Format.text,
) -> None:
    """Build the cycle's OPPE profile of every active practitioner from the warehouse (the
    serving snapshot) and the app data; decided profiles keep their decision."""
    from cmo.review import rules

    try:
        label = rules.parse_cycle(cycle).label
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    _django()
    from cmo.review.services import build_oppe
    from cmo.web.warehouse import NoResults

    try:
        profiles = build_oppe(label)
    except NoResults as exc:
        raise InputError(str(exc), hint=exc.hint) from exc
    if fmt is Format.json:
        out = [
            {
                "practitioner_id": p.practitioner.code,
                "npi": p.practitioner.npi,
                "department": p.department.code if p.department else None,
                "cycle": p.cycle,
                "due": p.due.isoformat(),
                "decision": p.decision or None,
                "indicators": p.data,
            }
            for p in profiles
        ]
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return
    due = profiles[0].due if profiles else "-"
    typer.echo(f"OPPE {label}: {len(profiles)} profile(s), decisions due {due}")
    for p in profiles:
        flags = [r["indicator"] for r in p.data if r.get("grade") in ("review", "action")]
        few = sum(r.get("grade") == "too_few" for r in p.data)
        typer.echo(
            f"  {p.practitioner.code:<12} {str(p.practitioner):<30} "
            f"{p.get_decision_display() or 'awaiting the chair':<22}"
            + (f" flags: {', '.join(flags)}" if flags else "")
            + (f" ({few} indicator(s) with too few cases)" if few else "")
        )


@review_app.command("fppe")
def fppe(
    status: Annotated[Status | None, typer.Option("--status", help="Only this status.")] = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """List FPPEs with practitioner_id, npi, trigger (kind and measure), status, opened."""
    _django()
    from cmo.review.api import fppe_row
    from cmo.review.models import Fppe

    qs = Fppe.objects.select_related("practitioner")
    if status is not None:
        qs = qs.filter(status=status.value)
    rows = [fppe_row(f) for f in qs]
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    typer.echo(f"{len(rows)} FPPE(s)")
    for r in rows:
        trig = r["trigger"]["kind"] + (
            f" {r['trigger']['measure']}" if r["trigger"]["measure"] else ""
        )
        typer.echo(
            f"  {r['practitioner_id']:<12} NPI {r['npi'] or '-':<10} {trig:<24} "
            f"{r['status']:<9} opened {r['opened'] or '-'}"
        )


@review_app.command("intake")
def intake(
    deaths: Annotated[
        str | None,
        typer.Option("--deaths", help="Mortality review of a month's deaths: YYYY-MM."),
    ] = None,
    sample: Annotated[
        int, typer.Option("--random", min=0, help="Also draw N random stays of that month.")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random sample.")] = 1,
    fmt: FormatOpt = Format.text,
) -> None:
    """Run the triggers: FPPE proposals from the build's signals, FPPEs of newly granted
    privileges, peer-review cases from safety referrals (a daily job); with --deaths, the
    month's in-hospital deaths (and --random N stays of it) become peer-review cases."""
    from datetime import date

    month: date | None = None
    if deaths is not None:
        try:
            month = date.fromisoformat(f"{deaths}-01")
        except ValueError as exc:
            raise InputError(f"--deaths {deaths!r} is not a month (YYYY-MM)") from exc
    elif sample:
        raise InputError("--random draws from the month given with --deaths YYYY-MM")
    _django()
    from cmo.review import services

    with contextlib.redirect_stdout(sys.stderr):  # mails to the office stay off stdout
        made: dict[str, Any] = {
            "signal_proposals": len(services.propose_from_signals()),
            "new_privilege_fppes": len(services.fppe_for_new_privileges()),
            "referral_cases": len(services.intake_referrals()),
        }
        if month is not None:
            end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            made["mortality_cases"] = len(services.intake_deaths(month, end))
            if sample:
                made["random_cases"] = len(services.intake_random(month, end, sample, seed=seed))
    if fmt is Format.json:
        sys.stdout.write(json.dumps(made) + "\n")
        return
    typer.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in made.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
