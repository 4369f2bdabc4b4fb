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


FORCE_KEY = "_cmo_must_change_password"
ALLOWED_WHILE_FORCED = ("/accounts/", "/static/", "/healthz")


class ForcePasswordChangeMiddleware:
    """After signing in with a one-time password, every page leads to the password change.

    The flag is copied into the session at login (``remember_password_flag``), so ordinary
    requests cost no query.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(FORCE_KEY)
            and not request.path.startswith(ALLOWED_WHILE_FORCED)
        ):
            from django.shortcuts import redirect

            return redirect("password_change")
        return self.get_response(request)


def remember_password_flag(sender: Any, request: Any, user: Any, **_: Any) -> None:
    """user_logged_in receiver: copy Profile.must_change_password into the session."""
    profile = getattr(user, "cmo_profile", None)
    if profile is not None and profile.must_change_password and request is not None:
        request.session[FORCE_KEY] = True


def clear_password_flag(request: Any, user: Any) -> None:
    from cmo.web.models import Profile

    Profile.objects.filter(user=user).update(must_change_password=False)
    request.session.pop(FORCE_KEY, None)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` (and ``private``) on every answer but static files.

    Pages and API answers carry patient- or practitioner-level data, or may (an error page
    naming a unit); no browser or proxy may keep a copy. Static files keep WhiteNoise's
    caching; WhiteNoise answers them before this middleware runs.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.utils.cache import add_never_cache_headers

        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response
