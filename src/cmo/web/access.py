"""View decorators: anonymous users go to the login page (302); a user without the role's
capability gets 403 (ARCHITECTURE.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from cmo.web.roles import perm


def capability_required(
    capability: str, *alternatives: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``capability``: ``"app.codename"`` (a bare codename is the core's); a user holding any of
    ``capability`` or ``alternatives`` may open the view (a view that narrows its rows by scope,
    e.g. all events for the safety officer, a department's for a chair). The wrapped view
    carries them as ``.capabilities`` (and the first as ``.capability``), so the
    permission-matrix test can enumerate every view."""
    needed = tuple(perm(c) for c in (capability, *alternatives))

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not any(request.user.has_perm(n) for n in needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.capability = needed[0]  # type: ignore[attr-defined]
        wrapped.capabilities = needed  # type: ignore[attr-defined]
        return wrapped

    return decorator


def require(request: Any, capability: str) -> None:
    """For API operations: 403 (a JSON error) unless the user holds ``capability``."""
    from ninja.errors import HttpError

    if not request.user.has_perm(perm(capability)):
        if getattr(request.user, "is_authenticated", False):
            from cmo.web.audit import log_event

            log_event(request, "denied", via="api", reason=f"lacks {perm(capability)}")
        raise HttpError(403, f"your role lacks {perm(capability)}")


View = TypeVar("View", bound=Callable[..., Any])


def require_post(view: View) -> View:
    """Django's ``require_POST`` (405 for any other method), typed: Django ships no annotations.
    Put it under ``capability_required``, so the capability is checked before the method."""
    from django.views.decorators.http import require_POST

    return cast(View, require_POST(view))
