"""Directory tables (``directory__*``): sites, departments, units, practitioners, memberships."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from cmo.web.scope import RestrictedQuerySet


class Source(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse (EHR data)"
    MANUAL = "manual", "Entered by hand"


class Entry(models.Model):
    """Fields every directory row has: its warehouse id (``code``), name, origin and life."""

    code = models.CharField(
        max_length=128,
        unique=True,
        blank=True,
        help_text="the id in the warehouse (FHIR resource id); manual-<n> when entered by hand",
    )
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True, help_text="false once the warehouse drops it")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WAREHOUSE)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_synced = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return str(self.name or self.code)


class Site(Entry):
    """A hospital: the root of an Organization.partOf chain."""

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {"site": "code", "department": "departments__code"}

    class Meta(Entry.Meta):
        db_table = "directory__site"


class Department(Entry):
    """A clinical department (service line) of a site."""

    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="departments"
    )

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {"department": "code", "site": "site__code"}

    class Meta(Entry.Meta):
        db_table = "directory__department"


class Unit(Entry):
    """A ward-level Location (physicalType ``wa``), e.g. an ICU."""

    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="units"
    )

    objects = RestrictedQuerySet.as_manager()
    # Units belong to sites, not departments: a department-limited user sees none.
    scope_fields: ClassVar[dict[str, str]] = {"site": "site__code"}

    class Meta(Entry.Meta):
        db_table = "directory__unit"


class Practitioner(Entry):
    """A practitioner: from the warehouse (``code`` = Practitioner id) or entered by hand.

    ``code`` of a hand-entered applicant is ``manual-<n>`` until the warehouse sees them; the
    sync matches by NPI first, so the applicant's row becomes the warehouse's.
    """

    npi = models.CharField(
        max_length=10, null=True, blank=True, unique=True, help_text="National Provider Identifier"
    )
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    specialty = models.CharField(max_length=200, blank=True)
    departments = models.ManyToManyField(
        Department, through="Membership", related_name="practitioners"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
        help_text="the app user who is this practitioner (a clinician sees their own results)",
    )

    objects = RestrictedQuerySet.as_manager()
    # A chair sees the practitioners with a membership (past or current) of their departments.
    scope_fields: ClassVar[dict[str, str]] = {
        "department": "memberships__department__code",
        "site": "memberships__department__site__code",
    }

    class Meta(Entry.Meta):
        db_table = "directory__practitioner"
        ordering = ["family_name", "given_name", "code"]


class Membership(models.Model):
    """A practitioner's membership of a department over a period (drives a chair's scope)."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="memberships"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="memberships")
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True, help_text="empty while current")
    primary = models.BooleanField(default=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WAREHOUSE)
    last_seen = models.DateField(
        null=True, blank=True, help_text="last discharge of a stay attended there (stay-derived)"
    )

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {
        "department": "department__code",
        "site": "department__site__code",
    }

    class Meta:
        db_table = "directory__membership"
        ordering = ["practitioner", "-start"]
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "department", "start"], name="directory_membership_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} in {self.department}"


class UserScope(models.Model):
    """The departments and sites a scoped user (a department chair) is limited to.

    ``cmo.web.scope`` reads it through :class:`cmo.directory.scope.DirectoryScope`, registered
    as the directory domain's scope source.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_scope"
    )
    departments = models.ManyToManyField(Department, blank=True, related_name="scoped_users")
    sites = models.ManyToManyField(Site, blank=True, related_name="scoped_users")

    class Meta:
        db_table = "directory__user_scope"

    def __str__(self) -> str:
        return f"scope of {self.user}"
