"""Directory admin: hand entry of people the warehouse has never seen (an applicant for
membership) and of users' department scope. Warehouse rows are kept by the sync."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin

from cmo.directory.models import Department, Membership, Practitioner, Site, Source, Unit, UserScope


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    fields = ("department", "start", "end", "primary", "source", "last_seen")
    readonly_fields = ("last_seen",)


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "npi", "specialty", "user", "active", "source")
    raw_id_fields = ("user",)
    list_filter = ("active", "source")
    search_fields = ("name", "npi", "code")
    readonly_fields = ("first_seen", "last_synced")
    inlines = (MembershipInline,)

    def save_model(self, request: Any, obj: Practitioner, form: Any, change: bool) -> None:
        if not change:
            # Entered by hand: the sync never deactivates it and adopts it by NPI.
            obj.source = Source.MANUAL
            if not obj.code:
                obj.code = f"manual-{uuid.uuid4().hex[:10]}"
        super().save_model(request, obj, form, change)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        for membership in formset.save(commit=False):
            if membership.pk is None:
                membership.source = Source.MANUAL
            membership.save()
        formset.save_m2m()
        for gone in formset.deleted_objects:
            gone.delete()


for model in (Site, Department, Unit):
    admin.site.register(model, list_display=("name", "code", "active", "source"))
admin.site.register(UserScope, filter_horizontal=("departments", "sites"))
