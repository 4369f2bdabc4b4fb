"""`cmo demo generate`, `cmo demo check` and the bare `cmo demo`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cmo.cli import app

runner = CliRunner()


def test_generate_and_check(tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = runner.invoke(
        app,
        [
            "demo",
            "generate",
            "--patients",
            "300",
            "--seed",
            "3",
            "--out",
            str(out),
            "--start",
            "2024-01-01",
            "--months",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "generated 300 patients" in result.output
    assert (out / "manifest.json").is_file() and (out / "signals.json").is_file()
    check = runner.invoke(app, ["demo", "check", str(out)])
    assert check.exit_code == 0, check.output
    assert "in-hospital mortality" in check.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-13-01"], "expected YYYY-MM-DD"),
        (["--months", "3"], "--months"),
        (["--patients", "0"], "--patients"),
    ],
)
def test_bad_input_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["demo", "generate", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_check_without_export(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "no manifest.json" in result.output


@pytest.mark.slow
def test_bare_demo_generates_ingests_and_skips_regeneration(tmp_path: Path) -> None:
    out, wh = tmp_path / "demo", tmp_path / "warehouse.duckdb"
    args = ["demo", "--patients", "400", "--out", str(out), "--warehouse", str(wh), "--no-serve"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "generated 400 patients" in first.output
    assert "0 quarantined" in first.output
    assert wh.is_file()
    # The sync ran: the directory was filled and the app tables exported to the warehouse.
    assert "directory sync: " in first.output and "app__directory_practitioner" in first.output
    # The build ran again after the domains' seeds: the safety measures count their events.
    assert "built measures with the app data" in first.output
    from cmo.warehouse import connect

    with connect(wh, read_only=True) as w:
        long = w.table("quality__measure_long")
        events = long.filter((long.measure_id == "SAFETY_EVENTS") & long.stay_id.isnull())
        assert events.count().execute() > 0
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "not regenerating" in second.output
    assert "directory sync: 0 created" in second.output
