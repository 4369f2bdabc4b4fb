"""The home page: each role goes to its landing page (declared by the domains)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cmo.web.roles import landing


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its first page; a user without a role gets the no-role page."""
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    target = landing(user)
    if target is None:
        return render(request, "web/no_role.html", status=403)
    return redirect(target)
