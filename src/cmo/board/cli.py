"""``cmo report board``: the board quality report of a quarter as board.html and board.pdf."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

report_app = typer.Typer(
    name="report",
    help="Reports for the board: the quarterly quality and safety report.",
    no_args_is_help=True,
)


@report_app.command("board")
def board(
    period: Annotated[
        str | None,
        typer.Option("--period", help="A complete quarter, e.g. 2024-Q4 (default: the latest)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write board.html and board.pdf into.")
    ] = Path("."),
    site: Annotated[
        str | None, typer.Option("--site", help="A site code: the report of that site.")
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", help="The warehouse (default $CMO_WAREHOUSE or the data dir)."),
    ] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Write board.html only.")] = False,
) -> None:
    """Write the board report of a quarter (board.html and board.pdf, from the same templates).

    The numbers are the serving snapshot's results, the CMO's targets and the safety,
    medical-staff and (when installed) review modules' counts; de-identified (no names, dates
    to the month, counts 1–10 suppressed). The CMO's draft summary is used when there is one.
    The command writes files only: publishing (freezing) is done on the draft page.
    """
    import cmo.web as web

    if warehouse is not None:
        import os

        os.environ["CMO_WAREHOUSE"] = str(warehouse)
    started = time.perf_counter()
    web.migrate()
    if warehouse is not None:
        from django.conf import settings

        settings.WAREHOUSE = warehouse
    from cmo.board import publish, services
    from cmo.board.reads import NoResults
    from cmo.errors import CmoError

    try:
        quarter = services.checked_quarter(period)
        if site:
            known = {str(r["unit_id"]) for r in _site_rows(quarter)}
            if site not in known:
                raise services.BadPeriod(f"site {site!r} has no results in {quarter.label}")
        data = publish.numbers(quarter, site or "")
        _body, html, pdf = publish.rendered(data, with_pdf=not no_pdf)
    except NoResults as exc:
        raise CmoError(f"{exc} {exc.hint}") from exc
    out.mkdir(parents=True, exist_ok=True)
    (out / "board.html").write_text(html, encoding="utf-8")
    written = [out / "board.html"]
    if pdf is not None:
        (out / "board.pdf").write_bytes(pdf)
        written.append(out / "board.pdf")
    seconds = time.perf_counter() - started
    where = f" ({site})" if site else ""
    typer.echo(
        f"board report {quarter.label}{where}: "
        + ", ".join(str(p) for p in written)
        + f" in {seconds:.1f} s"
    )


def _site_rows(quarter: object) -> list[dict[str, object]]:
    from cmo.board import reads as r

    measures = r.list_measures()
    if not measures:
        return []
    rows: list[dict[str, object]] = []
    for row in r.results(
        measures[0]["measure_id"],
        period_type="quarter",
        level="site",
        period_start=quarter.start,  # type: ignore[attr-defined]
    ):
        rows.append(dict(row))
    return rows


def register(app: typer.Typer) -> None:
    app.add_typer(report_app)
