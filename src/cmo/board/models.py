"""Board reports (``board__report``): a draft the CMO edits, then a frozen publication.

Publishing stores the rendered HTML (the standalone document and the page body), the PDF and
the numbers the template received, with a SHA-256 over the three; a published row is never
changed again (``save`` refuses), so a rebuild of the warehouse never changes a report the
board has seen.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from cmo.web.scope import RestrictedQuerySet


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class FrozenReport(Exception):  # noqa: N818 - reads as the state it guards
    """A published report cannot change."""


def digest(numbers: Any, html: str, pdf: bytes | None) -> str:
    """SHA-256 over the numbers (canonical JSON), the HTML document and the PDF."""
    h = hashlib.sha256()
    h.update(json.dumps(numbers, sort_keys=True, separators=(",", ":")).encode())
    h.update(b"\0" + html.encode() + b"\0")
    h.update(pdf or b"")
    return h.hexdigest()


class BoardReport(models.Model):
    """One board report of a quarter (system-wide, or one site)."""

    period = models.CharField(max_length=7, help_text="a quarter, e.g. 2024-Q4")
    site = models.CharField(max_length=64, blank=True, help_text="a site code; empty = system")
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    # The summary's sentences, one a line: generated from the data, edited by the CMO.
    summary = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    numbers = models.JSONField(null=True, blank=True)
    html = models.TextField(blank=True, help_text="the standalone HTML document (board.html)")
    body = models.TextField(blank=True, help_text="the report's body as the web page shows it")
    pdf = models.BinaryField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = {"site": "site"}
    history = HistoricalRecords(
        table_name="board__report_history", excluded_fields=["html", "body", "pdf", "numbers"]
    )

    class Meta:
        db_table = "board__report"
        ordering = ["-period", "site", "-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "site"],
                condition=models.Q(status="draft"),
                name="board_one_draft_per_period_site",
            ),
            models.UniqueConstraint(
                fields=["period", "site"],
                condition=models.Q(status="published"),
                name="board_one_publication_per_period_site",
            ),
        ]

    def __str__(self) -> str:
        where = self.site or "system"
        return f"Board report {self.period} ({where}, {self.get_status_display()})"

    @property
    def published(self) -> bool:
        return bool(self.status == ReportStatus.PUBLISHED)

    def verify(self) -> bool:
        """The stored hash still matches the stored numbers, HTML and PDF."""
        pdf = bytes(self.pdf) if self.pdf is not None else None
        return bool(self.sha256) and digest(self.numbers, self.html, pdf) == self.sha256

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            stored = BoardReport.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == ReportStatus.PUBLISHED:
                raise FrozenReport(f"{self} is published and frozen")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.published:
            raise FrozenReport(f"{self} is published and frozen")
        return super().delete(*args, **kwargs)
