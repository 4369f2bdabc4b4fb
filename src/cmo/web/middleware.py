"""Idle session expiry that does not write the session on every request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RENEW_AFTER = 60  # seconds between two renewals of a live session's 30-minute idle window


class IdleTimeoutMiddleware:
    """Renews an authenticated session's expiry at most once a minute.

    ``SESSION_SAVE_EVERY_REQUEST`` would write the session row on every page view; under load
    (50 users on SQLite) those writes serialise. Saving once a minute keeps the idle window
    (SESSION_COOKIE_AGE) accurate to a minute.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - int(session.get("_cmo_seen", 0)) >= RENEW_AFTER:
                session["_cmo_seen"] = now  # marks the session modified: Django re-sets expiry
        return self.get_response(request)
