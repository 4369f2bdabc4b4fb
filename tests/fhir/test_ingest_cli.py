"""``cmo ingest`` as a user runs it (the ``cmo`` entry point): summary with the line counts,
exit codes, one-line errors for every input or warehouse problem, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cmo.warehouse import connect


def _cmo(*args: str, env_dir: Path, **env: str) -> subprocess.CompletedProcess:
    code = "from cmo.cli import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=env_dir,
        timeout=120, env={**os.environ, **env},
    )  # fmt: skip


def _one_line_error(out: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, no traceback, the first stderr line says what is wrong."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith("cmo: error: "), out.stderr
    for f in fragments:
        assert f in first, first


def test_ingest_prints_summary_and_exits_0(
    tmp_path: Path, edge_dir: Path, bundle_dir: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    out = _cmo("ingest", str(edge_dir), str(bundle_dir), "--warehouse", str(wh), env_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ingested 9 file(s)") and "0 quarantined" in lines[0]
    assert lines[1].startswith("  lines read: ") and "+ 0 quarantined" in lines[1]
    assert "  fhir__patient: 5" in lines
    assert "  other type CareTeam: 1 (not loaded)" in lines
    assert wh.exists()


def test_summary_counts_add_up_with_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson"
    good = '{"resourceType": "Patient", "id": "a"}'
    old = '{"resourceType": "Patient", "id": "a", "meta": {"lastUpdated": "2000-01-01"}}'
    f.write_text("\n".join([good, "{bad", "", old, '{"resourceType": "Basic", "id": "b"}']) + "\n")
    out = _cmo("ingest", str(f), "--warehouse", str(tmp_path / "w.duckdb"), env_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == (
        "  lines read: 5 lines = 1 loaded + 1 superseded + 1 other type + 1 quarantined + 1 blank"
    )


def test_missing_path_is_one_line_and_no_warehouse(tmp_path: Path) -> None:
    out = _cmo("ingest", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb"),
               env_dir=tmp_path)  # fmt: skip
    _one_line_error(out, f"no such file or folder: {tmp_path / 'nope'}")
    assert not (tmp_path / "w.duckdb").exists()


def test_nothing_readable_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text("nope\n")
    out = _cmo("ingest", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), env_dir=tmp_path)
    _one_line_error(out, "no readable FHIR resource")


def test_unknown_engine_is_rejected(tmp_path: Path, edge_dir: Path) -> None:
    out = _cmo("ingest", str(edge_dir), "--engine", "oracle", env_dir=tmp_path)
    assert out.returncode == 2
    assert "engine must be one of duckdb, spark" in out.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    out = _cmo("ingest", "--help", env_dir=tmp_path)
    assert out.returncode == 0
    for opt in ("--warehouse", "--engine", "--spark-master", "--spark-remote", "Bulk Data"):
        assert opt in out.stdout


# -- one line for each way the input or the warehouse can be wrong (issue 20, point 8) --------


def _ingest(tmp_path: Path, *paths: Path, wh: Path | None = None, **env: str):
    target = wh or tmp_path / "w.duckdb"
    return _cmo("ingest", *map(str, paths), "--warehouse", str(target), env_dir=tmp_path, **env)


def test_garbage_memory_setting(tmp_path: Path, edge_dir: Path) -> None:
    out = _ingest(tmp_path, edge_dir, CMO_INGEST_MEMORY="garbage")
    _one_line_error(out, "CMO_INGEST_MEMORY='garbage' is not a memory size")


def test_malformed_manifest(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "manifest.json").write_text('{"output": [7]}')
    out = _ingest(tmp_path, tmp_path / "export")
    _one_line_error(out, "manifest.json: not a Bulk Data manifest")


@pytest.mark.parametrize(
    "manifest", ["{not json", "[1, 2]", '{"output": 5}', '{"output": [{"url": 3}]}']
)
def test_malformed_manifest_kinds(tmp_path: Path, manifest: str) -> None:
    """The same error for every shape of bad manifest (in process: the CLI path is above)."""
    from cmo.errors import CmoError
    from cmo.fhir.ingest import ingest

    (tmp_path / "manifest.json").write_text(manifest)
    with connect(tmp_path / "w.duckdb") as wh, pytest.raises(CmoError, match="not a Bulk Data"):
        ingest([tmp_path], wh, progress=False)


def test_bundle_entry_a_number(tmp_path: Path) -> None:
    f = tmp_path / "b.json"
    f.write_text('{"resourceType": "Bundle", "type": "collection", "entry": 5}')
    _one_line_error(_ingest(tmp_path, f), "b.json: Bundle.entry is number, not an array")


def test_bundle_nested_a_thousand_deep(tmp_path: Path) -> None:
    deep = "[" * 1000 + "]" * 1000
    f = tmp_path / "b.json"
    f.write_text('{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Basic", '
                 f'"id": "x", "extension": {deep}}}}}]}}')  # fmt: skip
    _one_line_error(_ingest(tmp_path, f), "b.json: JSON nested too deeply")


def test_unreadable_input_path(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file; this case runs only as an unprivileged user")
    f = tmp_path / "Patient.ndjson"
    f.write_text('{"resourceType": "Patient", "id": "a"}\n')
    f.chmod(0)
    _one_line_error(_ingest(tmp_path, f), "cannot read", "permission denied")


def test_concurrent_second_ingest_is_told_the_warehouse_is_in_use(
    tmp_path: Path, edge_dir: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    connect(wh).close()
    # Another process holds the write lock, as a running ingest does.
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True)"
    hold += "; time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, str(wh)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        # The writer waits CMO_LOCK_WAIT seconds for the file, saying so, then gives up.
        out = _ingest(tmp_path, edge_dir, wh=wh, CMO_LOCK_WAIT="1")
        lines = out.stderr.splitlines()
        assert lines[0].startswith("waiting up to 1 s for another cmo process"), out.stderr
        assert "Traceback" not in out.stderr
        assert lines[1].startswith("cmo: error: ") and "(waited 1 s" in lines[1], out.stderr
        assert "is in use by another cmo process" in lines[1]
        assert out.returncode == 3
    finally:
        proc.kill()
        proc.wait()


def test_zero_byte_warehouse(tmp_path: Path, edge_dir: Path) -> None:
    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"")
    _one_line_error(_ingest(tmp_path, edge_dir, wh=wh), "is not a DuckDB warehouse file")
    assert wh.stat().st_size == 0


def test_not_a_duckdb_file(tmp_path: Path, edge_dir: Path) -> None:
    wh = tmp_path / "w.duckdb"
    wh.write_text(json.dumps({"hello": "world"}))
    _one_line_error(_ingest(tmp_path, edge_dir, wh=wh), "is not a DuckDB warehouse file")
