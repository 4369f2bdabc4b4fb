"""Browser tests: headless Debian Chromium (never a downloaded browser) against live_server."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# One data dir (app database, warehouse, static files) per pytest-xdist worker: two workers
# building one DuckDB file would fight over its lock.
_BASE = Path(os.environ.get("CMO_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="cmo-web-"))
os.environ["CMO_TEST_DATA_DIR"] = str(_BASE)
_DATA = _BASE / os.environ.get("PYTEST_XDIST_WORKER", "main")
_DATA.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("CMO_DATA_DIR", str(_DATA))
os.environ["CMO_STATIC_MANIFEST"] = "0"
os.environ.setdefault("CMO_WAREHOUSE", str(_DATA / "warehouse.duckdb"))
os.environ["DJANGO_SETTINGS_MODULE"] = "cmo.web.settings"
# Playwright's sync API runs an event loop in the test thread; the ORM calls made around it
# (creating users, reading the access log) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import cmo.web  # noqa: E402

cmo.web.setup()

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
    path = Path(os.environ["CMO_WAREHOUSE"])
    if not path.exists():
        from cmo.web.sample import build_results_warehouse  # the one function to switch

        build_results_warehouse(path)
    return path


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
