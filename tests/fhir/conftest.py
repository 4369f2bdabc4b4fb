"""Fixtures of the ingest tests: the hand-written edge cases and a cached clinosim cohort."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fhir"
CACHE = ROOT / "tests" / "fixtures" / "cache"
CLINOSIM = CACHE / "clinosim-us-200-7"


@pytest.fixture(scope="session")
def edge_dir() -> Path:
    """tests/fixtures/fhir/edge: a small Bulk export of hand-written edge cases."""
    return FIXTURES / "edge"


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return FIXTURES / "bundles"


@pytest.fixture(scope="session")
def clinosim_export() -> Path:
    """A clinosim US cohort (200 people, seed 7), generated once into the gitignored cache.

    ~40 s the first time (CI regenerates it); the folder holds manifest.json + NDJSON.
    """
    out = CLINOSIM / "fhir_r4"
    if not (out / "manifest.json").exists():
        exe = Path(sys.executable).parent / "clinosim"
        if not exe.exists():
            pytest.skip("clinosim is not installed (pip install -e '.[test]')")
        shutil.rmtree(CLINOSIM, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(exe),
                "simulate",
                "--country",
                "US",
                "--population",
                "200",
                "--seed",
                "7",
                "--output",
                str(CLINOSIM),
                "--format",
                "fhir-r4",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return out
