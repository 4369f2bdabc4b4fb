"""One Django user per role for the web, staff and review tests' permission checks.

Passwords are left unusable (tests log in with ``force_login``): hashing a password with
PBKDF2 per role for every test would cost seconds each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def users_for_roles(
    roles: Iterable[str], prefix: str, chair_departments: list[str]
) -> dict[str, Any]:
    """``{role: user}``, each user ``<prefix>_<role>`` in its role's group; the department
    chair limited to ``chair_departments`` (the directory's scope)."""
    from django.contrib.auth.models import Group, User

    from cmo.staff.roles import assign_departments

    users = {}
    for role in roles:
        user = User.objects.create(username=f"{prefix}_{role}", password="!")
        user.groups.set([Group.objects.get(name=role)])
        if role == "department_chair":
            assign_departments(user, chair_departments)
        users[role] = user
    return users


def login_as(client: Any, users: dict[str, Any]) -> Callable[[str | None], Any]:
    """``login(role)`` -> ``client`` logged in as that role's user (``None``: logged out)."""

    def login(role: str | None) -> Any:
        client.logout()
        if role is not None:
            client.force_login(users[role])
        return client

    return login
