"""The fault suite (issue 20): a seeded byte- and JSON-level mutator over a `cmo demo` export,
more than 2,000 mutated lines per run; the ingest must load or quarantine every line with its
file and true line number, and its counts must add up. tests/fhir/faults.py runs more seeds:
``.venv/bin/python tests/fhir/faults.py --seeds 10``."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import check, demo_export, mutate


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_export(tmp_path_factory.mktemp("demo") / "export", patients=300)


@pytest.mark.parametrize("seed", [2026])
def test_mutated_export_keeps_the_ingest_contract(export: Path, tmp_path: Path, seed: int) -> None:
    mutated = mutate(export, tmp_path / "mutated", seed)
    got = check(mutated, tmp_path / "w.duckdb")
    assert got.mutated >= 2000, "too few faults to mean anything"
    assert got.crashed == 0, got.lost
    assert got.lost == []
    assert got.misplaced == []


def test_the_check_sees_a_lost_line(export: Path, tmp_path: Path) -> None:
    """The oracle itself: a line the ingest never saw (added after it ran) is reported."""
    mutated = mutate(export, tmp_path / "mutated", 1, share=0.01)
    name = sorted(mutated.files)[0]
    mutated.files[name].append(b'{"resourceType": "Patient", "id": "ghost"}')
    got = check(mutated, tmp_path / "w.duckdb")
    assert any("ghost" in x for x in got.lost), got.lost
