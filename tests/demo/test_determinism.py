"""Same arguments -> byte-identical files, whatever the number of worker processes."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from cmo.demo import generate as generate_module
from cmo.demo.generate import existing_export, generate

ARGS = {"patients": 1_200, "seed": 5, "start": date(2024, 3, 1), "months": 9}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_two_runs_identical_inline_and_with_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "a", progress=False, workers=1, **ARGS)  # type: ignore[arg-type]
    # Force the worker-process path even for this small run: the bytes must not change.
    monkeypatch.setattr(generate_module, "INLINE_BELOW", 0)
    generate(tmp_path / "b", progress=False, workers=2, **ARGS)  # type: ignore[arg-type]
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert "manifest.json" in a and "signals.json" in a and "Encounter.ndjson" in a
    assert a == b


def test_other_seed_differs(tmp_path: Path) -> None:
    generate(tmp_path / "a", progress=False, **ARGS)  # type: ignore[arg-type]
    generate(tmp_path / "b", progress=False, **{**ARGS, "seed": 6})  # type: ignore[arg-type]
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a["Patient.ndjson"] != b["Patient.ndjson"]
    # The fixed structure does not depend on the seed's patient streams, only on its own. The
    # EHR's AdverseEvents are rare (falls with injury, pressure injuries): a small run of one
    # seed may have none, and a type with no resources has no file.
    rare = {"AdverseEvent.ndjson"}
    assert a.keys() - rare == b.keys() - rare


def test_existing_export_detects_same_arguments(tmp_path: Path) -> None:
    out = tmp_path / "x"
    assert not existing_export(out, 1_200, 5, date(2024, 3, 1), 9)
    generate(out, progress=False, **ARGS)  # type: ignore[arg-type]
    assert existing_export(out, 1_200, 5, date(2024, 3, 1), 9)
    assert not existing_export(out, 1_200, 6, date(2024, 3, 1), 9)
    (out / "Claim.ndjson").unlink()
    assert not existing_export(out, 1_200, 5, date(2024, 3, 1), 9)


def test_bad_arguments_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="patients"):
        generate(tmp_path, patients=0, seed=1, start=date(2024, 1, 1), months=12)
    with pytest.raises(ValueError, match="months"):
        generate(tmp_path, patients=10, seed=1, start=date(2024, 1, 1), months=3)


def test_independent_of_python_hash_seed(tmp_path: Path) -> None:
    """Two fresh interpreters with different PYTHONHASHSEED write the same bytes."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from datetime import date; from pathlib import Path;"
        "from cmo.demo.generate import generate;"
        "generate(Path(sys.argv[1]), patients=300, seed=9, start=date(2024, 1, 1), months=8,"
        " progress=False)"
    )
    for name, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], env=env, check=True)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
