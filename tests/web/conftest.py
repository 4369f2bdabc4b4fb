"""Fixtures for the web tests: Django on a temporary data dir, a results warehouse, users.

The environment is set when this file is imported (before Django reads its settings):
a temporary CMO_DATA_DIR, hashed-name-free static files (no collectstatic in tests) and the
warehouse path. ``CMO_DATABASE_URL`` is left as it is, so the same tests run on PostgreSQL
(tests/web/test_postgres.py runs them again with it set).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# One data dir (app database, warehouse, static files) per process, shared by tests/web and
# tests/e2e: xdist workers inherit the controller's environment, so the key includes the pid.
_KEY = f"CMO_TEST_DATA_DIR_{os.getpid()}"
_DATA = Path(os.environ.get(_KEY) or tempfile.mkdtemp(prefix="cmo-web-"))
os.environ[_KEY] = str(_DATA)
# Set, not setdefault: an xdist controller that imported this file first passes its values on
# to the workers. The PostgreSQL pass hands its warehouse over in CMO_TEST_WAREHOUSE.
os.environ["CMO_DATA_DIR"] = str(_DATA)
os.environ["CMO_STATIC_MANIFEST"] = "0"
os.environ["CMO_WAREHOUSE"] = os.environ.get("CMO_TEST_WAREHOUSE") or str(
    _DATA / "warehouse.duckdb"
)
os.environ["DJANGO_SETTINGS_MODULE"] = "cmo.web.settings"

import cmo.web  # noqa: E402

cmo.web.setup()

from django.conf import settings as _settings  # noqa: E402

# pytest-django may have configured Django before this file ran (an xdist worker inherits
# DJANGO_SETTINGS_MODULE and the controller's paths): point it at this process's warehouse.
_settings.WAREHOUSE = Path(os.environ["CMO_WAREHOUSE"])

from demo_warehouse import CHAIR_DEPARTMENTS  # noqa: E402  (tests/demo_warehouse.py)


@pytest.fixture(scope="session", autouse=True)
def results_warehouse() -> Path:
    """The session's results warehouse at $CMO_WAREHOUSE: the real build of a small demo
    system (tests/web/demo_warehouse.py), built once per session and shared by xdist workers."""
    from demo_warehouse import build_once

    path = Path(os.environ["CMO_WAREHOUSE"])
    return build_once(path)


@pytest.fixture
def role_users(db: Any) -> dict[str, Any]:
    """One user per role (``t_<role>``); the chair sees department org-h1-cardiology only."""
    from cmo.web.roles import all_roles
    from role_users import users_for_roles

    return users_for_roles(all_roles(), "t", CHAIR_DEPARTMENTS)


@pytest.fixture
def client_for(client: Any, role_users: dict[str, Any]) -> Iterator[Any]:
    """``client_for(role)`` -> the test client logged in as that role's user."""
    from role_users import login_as

    yield login_as(client, role_users)


@pytest.fixture
def no_warehouse(settings: Any, tmp_path: Path) -> Path:
    """Point the app at a warehouse file that does not exist."""
    from cmo.web import warehouse

    settings.WAREHOUSE = tmp_path / "missing.duckdb"
    warehouse.clear_cache()
    return settings.WAREHOUSE
