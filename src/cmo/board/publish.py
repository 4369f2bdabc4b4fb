"""Drafts and publication: a draft holds the CMO's summary; publishing renders the report
once (page body, ``board.html``, ``board.pdf``), stores it with the numbers and a hash, and
freezes it (``BoardReport.save`` refuses any later change)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from cmo.board import render, services
from cmo.board.models import BoardReport, ReportStatus, digest
from cmo.errors import CmoError


class AlreadyPublished(CmoError):
    """The quarter (and site) already has a published report."""


def built_month() -> str:
    """The month of the serving build ("data as of"), for the report's header."""
    from cmo.web.warehouse import serving

    try:
        return str(serving().built_at)[:7]
    except Exception:  # noqa: BLE001 - no snapshot: the header leaves it out
        return ""


def draft_of(quarter: services.Quarter, site: str) -> BoardReport | None:
    found: BoardReport | None = BoardReport.objects.filter(
        period=quarter.label, site=site, status=ReportStatus.DRAFT
    ).first()
    return found


def published_of(quarter: services.Quarter, site: str) -> BoardReport | None:
    found: BoardReport | None = BoardReport.objects.filter(
        period=quarter.label, site=site, status=ReportStatus.PUBLISHED
    ).first()
    return found


def numbers(quarter: services.Quarter, site: str) -> dict[str, Any]:
    """The live numbers with the draft's summary when the CMO has edited one."""
    data = services.build(quarter, site or None, built_month=built_month())
    draft = draft_of(quarter, site)
    if draft and draft.summary.strip():
        data = services.with_summary(data, draft.summary)
    return data


def save_summary(quarter: services.Quarter, site: str, summary: str, user: Any) -> BoardReport:
    draft = draft_of(quarter, site)
    if draft is None:
        draft = BoardReport(period=quarter.label, site=site, created_by=user)
    draft.summary = summary
    draft.save()
    return draft


def rendered(data: dict[str, Any], *, with_pdf: bool = True) -> tuple[str, str, bytes | None]:
    """(body, document, pdf) of the numbers."""
    body = render.body(data)
    html = render.document(data, body)
    return body, html, render.pdf(html) if with_pdf else None


def publish(quarter: services.Quarter, site: str, user: Any) -> BoardReport:
    """Freeze the quarter's report: the draft (or a new row) becomes the publication."""
    with transaction.atomic():
        return _publish(quarter, site, user)


def _publish(quarter: services.Quarter, site: str, user: Any) -> BoardReport:
    if published_of(quarter, site) is not None:
        raise AlreadyPublished(f"{quarter.label} ({site or 'all sites'}) is already published")
    data = numbers(quarter, site)
    body, html, pdf = rendered(data)
    report = draft_of(quarter, site) or BoardReport(
        period=quarter.label, site=site, created_by=user
    )
    report.summary = "\n".join(data["summary"])
    report.numbers = data
    report.body = body
    report.html = html
    report.pdf = pdf
    report.sha256 = digest(data, html, pdf)
    report.status = ReportStatus.PUBLISHED
    report.published_by = user
    report.published_at = timezone.now()
    report.save()
    return report
