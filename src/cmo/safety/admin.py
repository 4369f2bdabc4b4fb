from django.contrib import admin

from cmo.safety.models import Holiday


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """The business-day calendar of the 45-business-day clock, kept by the safety office."""

    list_display = ("date", "name")
    date_hierarchy = "date"
