"""The directory's tests run on the web tests' Django set-up and fixtures (temporary data dir,
results warehouse, one user per role), loaded from tests/web/conftest.py rather than copied."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "cmo_tests_web_conftest"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        _NAME, Path(__file__).resolve().parents[1] / "web" / "conftest.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])

from cmo_tests_web_conftest import (  # type: ignore[import-not-found]  # noqa: E402
    CHAIR_DEPARTMENTS,
    client_for,
    results_warehouse,
    role_users,
)

__all__ = ["CHAIR_DEPARTMENTS", "client_for", "results_warehouse", "role_users"]
