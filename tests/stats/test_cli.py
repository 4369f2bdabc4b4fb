"""`cmo spc` and `cmo funnel` on real CSV files, through the real `cmo` Typer app."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cmo.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(map(str, args)))


def _error_line(result) -> str:
    # One line on stderr, exit code 2.
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def monthly(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = rng.integers(300, 500, 24)
    d = pd.DataFrame(
        {
            "month": pd.date_range("2023-01-01", periods=24, freq="MS").strftime("%Y-%m-%d"),
            "falls": rng.binomial(n, 0.02),
            "patient_days": n,
            "phase": ["before"] * 12 + ["after"] * 12,
        }
    )
    path = tmp_path / "falls.csv"
    d.to_csv(path, index=False)
    return path


def test_spc_reproduces_qicharts2_case_from_the_command_line(reference_dir, tmp_path):
    # PUBLISHED case ex_7.1_5: qic(sample, count, size, chart='p', exclude=c(15,23), part=30);
    # the input's phase column changes after subgroup 30.
    src = reference_dir / "spc_qicharts2" / "input_tbl_07.03.csv"
    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    r = _run(
        "spc",
        src,
        "--chart",
        "p",
        "--x",
        "sample",
        "--y",
        "count",
        "--n",
        "size",
        "--exclude",
        "15,23",
        "--part",
        "phase",
        "--out",
        out,
        "--png",
        png,
    )
    assert r.exit_code == 0, r.output
    assert "3 outside the limits" in r.stdout
    got = pd.read_csv(out)
    expected = pd.read_csv(reference_dir / "spc_qicharts2" / "expected_ex_7.1_5.csv")
    np.testing.assert_allclose(got["ucl"], expected["ucl"], atol=1e-6)
    np.testing.assert_allclose(got["cl"], expected["cl"], atol=1e-6)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_spc_u_chart_with_dates_freeze_and_svg(monthly, tmp_path):
    svg = tmp_path / "u.svg"
    r = _run(
        "spc",
        monthly,
        "--chart",
        "u",
        "--x",
        "month",
        "--y",
        "falls",
        "--n",
        "patient_days",
        "--freeze",
        "12",
        "--multiply",
        "1000",
        "--svg",
        svg,
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("u chart: 24 subgroups, 1 part")
    assert svg.read_text().startswith("<svg")


def test_spc_phases_from_a_column(monthly, tmp_path):
    out = tmp_path / "r.csv"
    r = _run(
        "spc",
        monthly,
        "--chart",
        "i",
        "--x",
        "month",
        "--y",
        "falls",
        "--part",
        "phase",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out)["part"].tolist() == [1] * 12 + [2] * 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--y", "falls"], "file not found"),
        (["--y", "fals"], "no column 'fals'"),
        (["--y", "phase"], "non-numeric value 'before' on line 2"),
        (["--y", "falls", "--chart", "p", "--n", "zero"], "is 0 on line 2"),
        (["--y", "neg", "--chart", "c"], "negative value -1 on line 3"),
        (["--y", "falls", "--chart", "p", "--n", "small"], "exceeds the denominator"),
        (["--y", "falls", "--chart", "xbar"], "subgroups of 2 or more"),
    ],
)
def test_spc_one_line_errors(monthly, tmp_path, args, message):
    d = pd.read_csv(monthly)
    d["zero"] = 0
    d["neg"] = [1, -1] + [1] * 22
    d["small"] = 1
    d.loc[0, "falls"] = 5
    path = tmp_path / "bad.csv"
    d.to_csv(path, index=False)
    target = tmp_path / "missing.csv" if message == "file not found" else path
    line = _error_line(_run("spc", target, *args))
    assert line.startswith("error: ") and message in line


def test_spc_too_few_points(tmp_path):
    path = tmp_path / "two.csv"
    pd.DataFrame({"y": [3, 4]}).to_csv(path, index=False)
    line = _error_line(_run("spc", path, "--y", "y", "--chart", "mr"))
    assert "too few points for a mr chart: 2 subgroups, need at least 3" in line


def test_spc_bad_options_are_rejected(monthly):
    r = _run("spc", monthly, "--y", "falls", "--chart", "zz")
    assert r.exit_code == 2 and "choose one of" in r.output
    r = _run("spc", monthly, "--y", "falls", "--chart", "p")
    assert r.exit_code == 2 and "--n" in r.output
    r = _run("spc", monthly, "--y", "falls", "--exclude", "a,b")
    assert r.exit_code == 2 and "comma" in r.output


def test_funnel_with_expected_and_overdispersion(tmp_path):
    rng = np.random.default_rng(8)
    e = rng.uniform(30, 300, 40)
    o = rng.poisson(e * rng.lognormal(0, 0.25, 40))
    o[0] = int(e[0] * 3)  # one clear outlier
    path = tmp_path / "hosp.csv"
    pd.DataFrame({"trust": [f"T{i:02d}" for i in range(40)], "deaths": o, "expected": e}).to_csv(
        path, index=False
    )
    out, png = tmp_path / "f.csv", tmp_path / "f.png"
    r = _run(
        "funnel",
        path,
        "--numerator",
        "deaths",
        "--expected",
        "expected",
        "--label",
        "trust",
        "--od",
        "shmi",
        "--out",
        out,
        "--png",
        png,
    )
    assert r.exit_code == 0, r.output
    assert "40 units" in r.stdout and "shmi phi" in r.stdout and "T00" in r.stdout
    got = pd.read_csv(out)
    assert {"lcl_95", "ucl_99_8", "outlier_95", "outlier_99_8", "z", "phi", "tau2"} <= set(got)
    assert bool(got.set_index("label").loc["T00", "outlier_99_8"])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_funnel_proportions_and_errors(tmp_path):
    path = tmp_path / "units.csv"
    pd.DataFrame({"unit": list("ABCD"), "x": [5, 10, 40, 12], "n": [100, 120, 150, 0]}).to_csv(
        path, index=False
    )
    line = _error_line(_run("funnel", path, "--numerator", "x", "--denominator", "n"))
    assert "is 0 on line 5" in line
    r = _run("funnel", path, "--numerator", "x", "--denominator", "n", "--expected", "n")
    assert r.exit_code == 2 and "exactly one" in r.output
    r = _run("funnel", path, "--numerator", "x", "--denominator", "n", "--od", "xyz")
    assert r.exit_code == 2 and "shmi" in r.output
    pd.DataFrame({"x": [5, 10, 40], "n": [100, 120, 150]}).to_csv(path, index=False)
    r = _run("funnel", path, "--numerator", "x", "--denominator", "n")
    assert r.exit_code == 0 and "3 units" in r.stdout and "1 outside 99.8%" in r.stdout


def test_help_is_clear():
    for cmd in ("spc", "funnel"):
        r = _run(cmd, "--help")
        assert r.exit_code == 0 and "Example:" in r.stdout
