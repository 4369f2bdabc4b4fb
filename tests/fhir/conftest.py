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


@pytest.fixture
def spark_wh(spark_warehouse):
    """The shared Spark session, in a database of its own so other tests' tables stay apart."""
    spark = spark_warehouse.spark
    before = spark.catalog.currentDatabase()
    spark.sql("DROP DATABASE IF EXISTS cmo_fhir_test CASCADE")
    spark.sql("CREATE DATABASE cmo_fhir_test")
    spark.catalog.setCurrentDatabase("cmo_fhir_test")
    # Tiny file splits, so line numbering across the partitions of one file is exercised.
    split = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    yield spark_warehouse
    spark.conf.set("spark.sql.files.maxPartitionBytes", split)
    spark.catalog.setCurrentDatabase(before)
    spark.sql("DROP DATABASE IF EXISTS cmo_fhir_test CASCADE")
