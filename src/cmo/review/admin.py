from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cmo.review.models import Conflict, Indicator, ManualValue


@admin.register(Indicator)
class IndicatorAdmin(SimpleHistoryAdmin):
    list_display = (
        "label",
        "kind",
        "measure_id",
        "department",
        "competency",
        "review_at",
        "action_at",
        "active",
    )
    list_filter = ("kind", "competency", "active")


@admin.register(ManualValue)
class ManualValueAdmin(SimpleHistoryAdmin):
    list_display = ("indicator", "practitioner", "cycle", "value")


@admin.register(Conflict)
class ConflictAdmin(SimpleHistoryAdmin):
    list_display = ("reviewer", "practitioner", "reason", "declared_on")
