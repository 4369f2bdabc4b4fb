"""Demo exports generated once per test session: a small one, and the default 20k size."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cmo.demo.generate import generate

SMALL = {"patients": 1500, "seed": 11, "start": date(2023, 1, 1), "months": 12}


@pytest.fixture(scope="session")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 patients over 12 months (about a second to generate)."""
    out = tmp_path_factory.mktemp("demo-small")
    generate(out, progress=False, **SMALL)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def default_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo size: 20,000 patients, seed 42, 24 months from 2023-01-01."""
    out = tmp_path_factory.mktemp("demo-20k")
    generate(out, patients=20_000, seed=42, start=date(2023, 1, 1), months=24, progress=False)
    return out
