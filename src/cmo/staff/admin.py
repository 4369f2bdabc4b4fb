"""The admin: the office edits the privilege delineation and its code lists, and changes or
removes file elements (every change kept by simple-history)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cmo.staff import models as m


class CodeInline(admin.TabularInline):
    model = m.PrivilegeCode
    extra = 1


@admin.register(m.PrivilegeDefinition)
class PrivilegeDefinitionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "department", "kind", "min_cases_24m", "requires_dea")
    list_filter = ("department", "kind")
    inlines = [CodeInline]


def _inline(model: type) -> type:
    return type(f"{model.__name__}Inline", (admin.TabularInline,), {"model": model, "extra": 0})


@admin.register(m.CredentialFile)
class CredentialFileAdmin(SimpleHistoryAdmin):
    list_display = ("practitioner", "caqh_id", "health_attested_on")
    search_fields = ("practitioner__family_name", "practitioner__npi")
    inlines = [
        _inline(model)
        for model in (
            m.Licence,
            m.DeaRegistration,
            m.BoardCertification,
            m.MalpracticePolicy,
            m.MalpracticeClaim,
            m.Education,
            m.WorkHistory,
            m.CmeCredit,
            m.PrivilegeGrant,
        )
    ]
