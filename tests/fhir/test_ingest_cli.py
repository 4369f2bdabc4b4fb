"""``cmo ingest`` as a user runs it: summary, exit codes, one-line errors, --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _cmo(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    code = "from cmo.cli import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=env_dir,
        timeout=120,
    )  # fmt: skip


def test_ingest_prints_summary_and_exits_0(
    tmp_path: Path, edge_dir: Path, bundle_dir: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    out = _cmo("ingest", str(edge_dir), str(bundle_dir), "--warehouse", str(wh), env_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ingested 9 file(s)") and "0 quarantined" in lines[0]
    assert "  fhir__patient: 5" in lines
    assert "  other type CareTeam: 1 (not loaded)" in lines
    assert wh.exists()


def test_missing_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = _cmo("ingest", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb"),
               env_dir=tmp_path)  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == f"cmo ingest: no such file or folder: {tmp_path / 'nope'}"
    assert not (tmp_path / "w.duckdb").exists()


def test_nothing_readable_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text("nope\n")
    out = _cmo("ingest", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), env_dir=tmp_path)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1
    assert "no readable FHIR resource" in out.stderr


def test_unknown_engine_is_rejected(tmp_path: Path, edge_dir: Path) -> None:
    out = _cmo("ingest", str(edge_dir), "--engine", "oracle", env_dir=tmp_path)
    assert out.returncode == 2
    assert "engine must be one of duckdb, spark" in out.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    out = _cmo("ingest", "--help", env_dir=tmp_path)
    assert out.returncode == 0
    for opt in ("--warehouse", "--engine", "--spark-master", "--spark-remote", "Bulk Data"):
        assert opt in out.stdout
