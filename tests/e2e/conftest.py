"""Browser tests: headless Debian Chromium (never a downloaded browser) against live_server."""

from __future__ import annotations

import os
import shutil
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
# Playwright's sync API runs an event loop in the test thread; the ORM calls made around it
# (creating users, reading the access log) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import cmo.web  # noqa: E402

cmo.web.setup()

from django.conf import settings as _settings  # noqa: E402

# pytest-django may have configured Django before this file ran (an xdist worker inherits
# DJANGO_SETTINGS_MODULE and the controller's paths): point it at this process's warehouse.
_settings.WAREHOUSE = Path(os.environ["CMO_WAREHOUSE"])

CHROMIUM = os.environ.get("CMO_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def e2e_warehouse() -> Path:
    """A real demo build (tests/demo_warehouse.py: 5,000 patients, ~15 s) of ALARM_SEED, whose
    dashboard has a current CUSUM alarm, in a file of its own."""
    from demo_warehouse import alarm_warehouse  # tests/demo_warehouse.py

    return alarm_warehouse()


@pytest.fixture
def e2e_measures(e2e_warehouse: Path, settings: Any) -> list[dict[str, Any]]:
    """Point the app at the demo build; return its measures (read as the app reads them)."""
    from cmo.quality import reads
    from cmo.web import warehouse

    settings.WAREHOUSE = e2e_warehouse
    warehouse.clear_cache()
    measures = reads.list_measures()
    assert measures, "the demo build has no measures"
    return measures


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (make system-deps installs it)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.errors = []  # console errors and CSP violations, asserted empty by the tests
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()
