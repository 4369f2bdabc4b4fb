"""Fixtures for the safety tests: the web tests' Django set-up and role users (loaded from
tests/web/conftest.py, and the demo build from tests/e2e/conftest.py, not copied), a small
real DuckDB warehouse with patients, stays and unit days, and directory rows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from safety_sample import build_registry_warehouse, make_directory, write_safety_warehouse

TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_web = _load("safety_web_conftest", TESTS / "web" / "conftest.py")
_e2e = _load("safety_e2e_conftest", TESTS / "e2e" / "conftest.py")
results_warehouse = _web.results_warehouse
role_users = _web.role_users
client_for = _web.client_for
e2e_warehouse = _e2e.e2e_warehouse
CHAIR_DEPARTMENTS = _web.CHAIR_DEPARTMENTS  # ["org-h1-cardiology"]


@pytest.fixture(scope="session")
def safety_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_safety_warehouse(tmp_path_factory.mktemp("safety") / "warehouse.duckdb")


@pytest.fixture
def safety_warehouse(safety_warehouse_file: Path, settings: Any) -> Path:
    settings.WAREHOUSE = safety_warehouse_file
    return safety_warehouse_file


@pytest.fixture(scope="session")
def registry_warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real pipeline with app__safety_event (safety_sample.build_registry_warehouse)."""
    return build_registry_warehouse(tmp_path_factory.mktemp("registry") / "warehouse.duckdb")


@pytest.fixture
def registry_warehouse(registry_warehouse_file: Path, settings: Any) -> Path:
    """The app reads the registry build (its serving snapshot, through quality's doors)."""
    from cmo.web import warehouse

    settings.WAREHOUSE = registry_warehouse_file
    warehouse.clear_cache()
    return registry_warehouse_file


@pytest.fixture
def directory(db: Any) -> dict[str, Any]:
    """Directory rows (see ``safety_sample.make_directory``)."""
    return make_directory()


@pytest.fixture
def make_event(directory: dict[str, Any]) -> Any:
    """``make_event(**fields)`` -> a saved Event (defaults: a named fall in the ICU)."""
    from django.utils import timezone

    from cmo.safety.models import Event

    def make(**fields: Any) -> Any:
        practitioners = fields.pop("practitioners", [])
        values = {
            "reported_at": timezone.now(),
            "event_type": "fall",
            "category": "incident",
            "harm": "mild",
            "occurred_at": timezone.now(),
            "site": directory["site"],
            "unit": directory["icu"],
            "description": "A fall.",
            **fields,
        }
        e = Event.objects.create(**values)
        e.practitioners.set(practitioners)
        return e

    return make
