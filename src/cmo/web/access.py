"""View decorators: anonymous users go to the login page (302); a user without the role's
capability gets 403 (ARCHITECTURE.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from cmo.web.roles import perm


def capability_required(capability: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``capability``: ``"app.codename"`` (a bare codename is the core's). The wrapped view
    carries it as ``.capability``, so the permission-matrix test can enumerate every view."""
    needed = perm(capability)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perm(needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.capability = needed  # type: ignore[attr-defined]
        return wrapped

    return decorator


def require(request: Any, capability: str) -> None:
    """For API operations: 403 (a JSON error) unless the user holds ``capability``."""
    from ninja.errors import HttpError

    if not request.user.has_perm(perm(capability)):
        raise HttpError(403, f"your role lacks {perm(capability)}")
