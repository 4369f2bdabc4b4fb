"""The admin for the CMO's targets (the quality pages offer a form as well)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cmo.quality.models import MeasureTarget


@admin.register(MeasureTarget)
class MeasureTargetAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    list_display = ("measure_id", "value", "source", "set_by", "set_at")
    search_fields = ("measure_id", "source")
