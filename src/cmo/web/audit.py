"""The PHI access log: every patient-level page view and API call writes one row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cmo.web.models import AccessLog

MAX_IDS = 5000  # a single row keeps at most this many patient ids (a drill-down is capped lower)


def client_ip(request: Any) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


def log_access(
    request: Any,
    *,
    filters: dict[str, Any],
    patient_ids: Iterable[Any],
    via: str = "web",
    user: Any = None,
) -> AccessLog:
    """Record that ``user`` (default ``request.user``) saw these patients through this page."""
    user = user or request.user
    ids = sorted({str(p) for p in patient_ids if p is not None})
    return AccessLog.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "anonymous",
        page=request.get_full_path()[:500],
        via=via,
        filters={k: (None if v is None else str(v)) for k, v in filters.items()},
        patient_ids=ids[:MAX_IDS],
        n_patients=len(ids),
        ip=client_ip(request),
    )
