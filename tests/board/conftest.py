"""Fixtures for the board tests: the web tests' Django set-up, demo build and role users
(loaded from tests/web/conftest.py, not copied), and app-database rows that name real demo
patients and practitioners (safety events, credential files; ``board_sample.make_app_rows``),
so the de-identification test has names to look for in every section."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from board_sample import make_app_rows

TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_web = _load("board_web_conftest", TESTS / "web" / "conftest.py")
results_warehouse = _web.results_warehouse
role_users = _web.role_users
client_for = _web.client_for


@pytest.fixture(autouse=True)
def _fresh_cache(results_warehouse: Path, settings: Any) -> None:
    from cmo.web import warehouse

    settings.WAREHOUSE = results_warehouse
    warehouse.clear_cache()


@pytest.fixture
def app_rows(db: Any) -> dict[str, Any]:
    """Safety events and credential files of the quarter naming demo people (see
    ``board_sample.make_app_rows``)."""
    return make_app_rows()
