"""The web app's own tables: role capabilities, department scope, API tokens, PHI access log."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


class Capability(models.Model):
    """No rows: only carries the core's own permissions (see ``cmo.web.roles``); each domain's
    capabilities are permissions of its own app (``Domain.capabilities``)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_data_status", "See ingest runs, quarantine and build times"),
            ("view_quarantine_text", "See the text of quarantined lines (may hold patient data)"),
            ("view_access_log", "See the PHI access log"),
            ("unlock_accounts", "See failed-login lockouts and unlock accounts"),
        ]


class Profile(models.Model):
    """Per-user settings of the shell. A user's departments (a chair's scope) are kept by the
    registered scope source (the directory's ``UserScope``), see ``cmo.web.scope``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cmo_profile"
    )
    must_change_password = models.BooleanField(
        default=False, help_text="set for a one-time password; cleared by the password change"
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for a service account; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="default")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} {self.name} {self.prefix}…"

    @classmethod
    def issue(cls, user, name: str = "default") -> tuple[ApiToken, str]:  # type: ignore[no-untyped-def]
        """Create a token and return it with its clear text (shown once, never stored)."""
        raw = "cmo_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=_hash(raw), prefix=raw[4:12])
        return token, raw

    @classmethod
    def lookup(cls, raw: str) -> ApiToken | None:
        return (
            cls.objects.select_related("user")
            .filter(digest=_hash(raw), user__is_active=True)
            .first()
        )


class AccessLog(models.Model):
    """One row per look at patient-level data: who, when, which page, filters, which patients.

    Written by every patient-level view and API call (ARCHITECTURE.md §7; HIPAA Security Rule
    45 CFR §164.312(b) audit controls), and for the security events around them (``event``):
    a refused request, a failed-login lockout and its unlock, a look at the access log itself.
    Rows are never updated or deleted by the app.
    """

    class Event(models.TextChoices):
        VIEW = "view", "Viewed patient data"
        QUARANTINE = "quarantine", "Viewed quarantined lines"
        DENIED = "denied", "Access refused"
        LOCKOUT = "lockout", "Locked out after failed sign-ins"
        UNLOCK = "unlock", "Account unlocked"
        AUDIT = "audit", "Viewed the access log"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    time = models.DateTimeField(auto_now_add=True, db_index=True)
    page = models.CharField(max_length=500)
    via = models.CharField(max_length=10, default="web")  # web | api
    filters = models.JSONField(default=dict)
    patient_ids = models.JSONField(default=list)
    n_patients = models.PositiveIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    event = models.CharField(max_length=12, choices=Event.choices, default=Event.VIEW)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} {self.username} {self.page} ({self.n_patients})"
