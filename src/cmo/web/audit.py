"""The PHI access log: every patient-level page view and API call writes one row, and so do
the security events around it (a refused request, a lockout, an unlock, a look at the log)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cmo.web.models import AccessLog

MAX_IDS = 5000  # a single row keeps at most this many patient ids (a drill-down is capped lower)


def client_ip(request: Any) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def log_access(
    request: Any,
    *,
    filters: dict[str, Any],
    patient_ids: Iterable[Any],
    via: str = "web",
    user: Any = None,
    event: str = "view",
) -> AccessLog:
    """Record that ``user`` (default ``request.user``) saw these patients through this page."""
    user = user or getattr(request, "user", None)
    ids = sorted({str(p) for p in patient_ids if p is not None})
    page = request.get_full_path()[:500] if request is not None else ""
    return AccessLog.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "anonymous",
        page=page,
        via=via,
        filters={k: (None if v is None else str(v)) for k, v in filters.items()},
        patient_ids=ids[:MAX_IDS],
        n_patients=len(ids),
        ip=client_ip(request),
        event=event,
    )


def log_event(
    request: Any, event: str, /, *, username: str | None = None, via: str = "web", **filters: Any
) -> AccessLog:
    """A security event without patient ids (denied, lockout, unlock, audit)."""
    user = getattr(request, "user", None) if username is None else None
    if username is not None:
        from django.contrib.auth.models import User

        user = User.objects.filter(username=username).first() or _Named(username)
    return log_access(request, filters=filters, patient_ids=(), via=via, user=user, event=event)


class _Named:
    """A user name that matches no account (a lockout of a made-up name)."""

    pk = None

    def __init__(self, username: str) -> None:
        self.username = username[:150]


def on_lockout(sender: Any, request: Any = None, username: Any = None, **_: Any) -> None:
    """django-axes ``user_locked_out`` receiver: one ``lockout`` row per lockout."""
    log_event(request, "lockout", username=str(username or "anonymous"))


def denied(request: Any, exception: Any = None) -> Any:
    """``handler403``: the 403 page, after writing a ``denied`` row for a signed-in user."""
    from django.shortcuts import render

    if getattr(getattr(request, "user", None), "is_authenticated", False):
        log_event(request, "denied", reason=str(exception or "")[:200] or None)
    return render(request, "403.html", status=403)
