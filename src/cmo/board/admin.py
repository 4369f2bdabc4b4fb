from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cmo.board.models import BoardReport


@admin.register(BoardReport)
class BoardReportAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    """Read-only: drafts change through the draft page, publications never."""

    list_display = ("period", "site", "status", "published_at", "sha256")
    list_filter = ("status",)
    fields = ("period", "site", "status", "summary", "published_at", "sha256")
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
