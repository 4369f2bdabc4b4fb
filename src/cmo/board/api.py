"""Board endpoints (/api/board/): the published reports and their frozen numbers, and the live
scorecard of a quarter (de-identified like the report)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema

from cmo.board import services
from cmo.board.apps import EXPORT, VIEW_REPORT
from cmo.board.models import BoardReport
from cmo.board.reads import NoResults
from cmo.web.access import require
from cmo.web.scope import scope_of

router = Router(tags=["board"])


class ReportOut(Schema):
    id: int
    period: str
    site: str
    published_month: str
    sha256: str


class ReportNumbers(ReportOut):
    numbers: dict[str, Any]


class PeriodQuery(Schema):
    period: str | None = None


def _out(r: BoardReport) -> dict[str, Any]:
    published: datetime | None = r.published_at
    return {
        "id": r.pk,
        "period": r.period,
        "site": r.site,
        "published_month": published.strftime("%Y-%m") if published else "",
        "sha256": r.sha256,
    }


def _published(request: Any) -> Any:
    from cmo.board.views import published_for

    return published_for(scope_of(request.user))


@router.get("/reports", response=list[ReportOut])
def reports(request: Any) -> list[dict[str, Any]]:
    """Published board reports, newest quarter first."""
    require(request, VIEW_REPORT)
    return [_out(r) for r in _published(request).order_by("-period", "site")]


@router.get("/reports/{report_id}", response={200: ReportNumbers, 404: dict})
def report(request: Any, report_id: int) -> Any:
    """One published report's frozen numbers (what its page, HTML and PDF show)."""
    require(request, VIEW_REPORT)
    r = _published(request).filter(pk=report_id).first()
    if r is None:
        return 404, {"detail": "no published report with that id"}
    return {**_out(r), "numbers": r.numbers}


@router.get("/scorecard", response={200: list[dict[str, Any]], 400: dict, 503: dict})
def scorecard(request: Any, q: Query[PeriodQuery]) -> Any:
    """The live system scorecard of a quarter (default the latest complete), de-identified."""
    require(request, EXPORT)
    try:
        quarter = services.checked_quarter(q.period)
        rows = services.scorecard_rows(services.ordered_measures(), quarter, charts=False)
    except services.BadPeriod as exc:
        return 400, {"detail": str(exc)}
    except NoResults as exc:
        return 503, {"detail": str(exc)}
    return [{k: v for k, v in row.items() if k != "trend_svg"} for row in rows]
