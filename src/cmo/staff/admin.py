"""The office edits the privilege delineation and its code lists here (with history)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cmo.staff.models import PrivilegeCode, PrivilegeDefinition


class CodeInline(admin.TabularInline):
    model = PrivilegeCode
    extra = 1


@admin.register(PrivilegeDefinition)
class PrivilegeDefinitionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "department", "kind", "min_cases_24m", "requires_dea")
    list_filter = ("department", "kind")
    inlines = [CodeInline]
