"""The web app (Django): settings, roles, audit, pages and the API.

Importing ``cmo.web`` does not import Django; ``setup()`` configures it on first use, so the
analytics side and ``cmo --help`` stay light.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from typing import Any

DEFAULT_SETTINGS = "cmo.web.settings"


def prepare_data_dir() -> None:
    """Make the data dir, its static folder and its secret key file (owner-readable only).

    The settings module only reads them, so importing it writes nothing.
    """
    from cmo.config import settings

    data = settings().data_dir
    (data / "static").mkdir(parents=True, exist_ok=True)
    key = data / "secret_key"
    if not os.environ.get("CMO_SECRET_KEY") and not key.exists():
        key.write_text(secrets.token_urlsafe(50))
        key.chmod(0o600)


def setup(settings_module: str | None = None) -> None:
    """Configure Django once (``DJANGO_SETTINGS_MODULE`` wins, else the default settings)."""
    import django
    from django.apps import apps

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module or DEFAULT_SETTINGS)
    if not apps.ready:
        prepare_data_dir()
        django.setup()


def migrate(verbosity: int = 0) -> None:
    """Create or update the app database (and the role groups, via post_migrate).

    Two cmo processes may start at once (``cmo serve`` and the sync of ``cmo measures run``,
    or two test workers on one data folder): each would see the same unapplied migrations and
    the second would fail on "table already exists". An exclusive lock on a file in the data
    folder makes them take turns; the second then finds nothing to apply."""
    import fcntl

    from django.core.management import call_command

    from cmo.config import settings as cmo_settings

    setup()
    folder = cmo_settings().data_dir
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        call_command("migrate", interactive=False, verbosity=verbosity)


def one_time_password() -> str:
    # 16 URL-safe characters (~96 bits), printed once and never stored in clear.
    return secrets.token_urlsafe(12)


def add_user(
    name: str,
    role: str,
    *,
    password: str | None = None,
    departments: Iterable[str] = (),
    token: bool = False,
) -> tuple[Any, str | None, str | None]:
    """Create (or reset) a user with one role; returns (user, password, token).

    A new password is generated when none is given; with ``token=True`` the account also gets
    an API token (service accounts). Both are returned in clear only here.
    """
    from django.contrib.auth.models import Group, User

    setup()
    from cmo.web.models import ApiToken, Profile
    from cmo.web.registry import scope_source
    from cmo.web.roles import all_roles

    roles = all_roles()
    if role not in roles:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(roles)}")
    user, _ = User.objects.get_or_create(username=name)
    pw = password or one_time_password()
    user.set_password(pw)
    user.is_active = True
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    # A generated password is one-time: the user must choose their own at first sign-in.
    Profile.objects.update_or_create(user=user, defaults={"must_change_password": password is None})
    depts = list(departments)
    source = scope_source()
    if depts and source is None:
        raise ValueError("departments need the directory app (no scope source is installed)")
    if source is not None:
        # Departments by warehouse code; the directory links the user to its Department rows.
        source.assign(user, depts)
    raw = ApiToken.issue(user, name="cli")[1] if token else None
    return user, pw, raw


def demo_users(
    *,
    prefix: str = "demo",
    departments: Iterable[str] = (),
    echo: Callable[[str], None] | None = print,
) -> dict[str, str]:
    """One demo user per role (``demo_cmo``, ``demo_quality_analyst``, …) with fresh passwords.

    Migrates first. Prints a table of user names and one-time passwords through ``echo``
    (None = silent) and returns {username: password}. Department chairs get ``departments``.
    """
    migrate()
    from cmo.web.roles import all_roles

    out: dict[str, str] = {}
    for role in all_roles():
        name = f"{prefix}_{role}"
        depts = departments if role == "department_chair" else ()
        _, pw, _ = add_user(name, role, departments=depts)
        out[name] = pw or ""
    if echo:
        width = max(len(n) for n in out)
        echo("Demo users (one-time passwords, shown once):")
        for name, pw in out.items():
            echo(f"  {name.ljust(width)}  {pw}")
    return out


def serve(
    host: str = "127.0.0.1", port: int = 8000, threads: int = 8, warehouse: Any = None
) -> None:
    """Migrate, collect static files and serve until interrupted (what ``cmo serve`` does);
    for ``cmo demo`` to call after ``demo_users``."""
    from cmo.web.cli import serve as _serve

    _serve(host=host, port=port, threads=threads, warehouse=warehouse, demo_users=False)


__all__ = ["add_user", "demo_users", "migrate", "serve", "setup"]
