"""Chart specs: valid Vega-Lite with inline data, signals highlighted, offline rendering."""

from __future__ import annotations

import json
from pathlib import Path

import altair
import jsonschema
import numpy as np
import pandas as pd
import pytest

from cmo.stats import charts
from cmo.stats.cusum import bernoulli_cusum, vlad
from cmo.stats.funnel import funnel
from cmo.stats.spc import control_chart

SCHEMA = json.loads(
    (
        Path(altair.__file__).parent / "vegalite" / "v6" / "schema" / "vega-lite-schema.json"
    ).read_text()
)

VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


def _valid(spec: dict) -> None:
    # Altair ships the Vega-Lite v6 schema; our v5 specs use nothing v6 removed.
    VALIDATOR.validate({k: v for k, v in spec.items() if k != "$schema"})
    text = json.dumps(spec, allow_nan=False)  # inline data only, no NaN
    assert '"url"' not in text


@pytest.fixture(scope="module")
def p_chart() -> pd.DataFrame:
    y = np.array([12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18])
    x = pd.date_range("2024-01-01", periods=len(y), freq="MS")
    return control_chart(y, np.full(len(y), 50), chart="p", x=x, exclude=[15], freeze=14)


def test_control_chart_spec_valid_and_highlights_signals(p_chart):
    spec = charts.control_chart_spec(
        p_chart,
        title="Pressure injuries",
        y_title="Proportion of patients",
        percent=True,
        target=0.15,
        annotations=[{"x": pd.Timestamp("2024-09-01"), "text": "New mattress"}],
    )
    _valid(spec)
    values = spec["data"]["values"]
    assert len(values) == len(p_chart) and values[0]["x"].startswith("2024-01-01")
    assert [v["sigma_signal"] for v in values] == p_chart["sigma_signal"].tolist()
    text = json.dumps(spec)
    assert charts.RED in text and charts.ORANGE in text and '".1%"' in text
    assert spec["title"]["text"] == "Pressure injuries"
    assert "outside the limits" in spec["title"]["subtitle"]
    svg = charts.to_svg(spec)
    assert svg.startswith("<svg") and "Pressure injuries" in svg and "New mattress" in svg


def test_runs_signal_draws_a_dashed_orange_centre_line():
    d = control_chart([1, 2, 1, 2, 1, 2, 1, 2, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6], chart="run")
    spec = charts.control_chart_spec(d, title="Shift", y_title="Value", x_title="Week")
    cl_layer = next(
        layer for layer in spec["layer"] if layer["encoding"].get("y", {}).get("field") == "cl"
    )
    assert cl_layer["encoding"]["strokeDash"]["scale"]["range"][1] == [6, 4]
    assert "non-random runs" in spec["title"]["subtitle"]
    _valid(spec)


def test_funnel_spec_has_curves_points_and_renders_png():
    rng = np.random.default_rng(2)
    e = rng.uniform(20, 400, 30)
    d = funnel(rng.poisson(e * 1.0), expected=e, labels=[f"H{i}" for i in range(30)], od="shmi")
    spec = charts.funnel_spec(d, title="Mortality O/E")
    _valid(spec)
    curves, _, points = spec["layer"]
    assert {r["level"] for r in curves["data"]["values"]} == {"95%", "99.8%"}
    assert len(points["data"]["values"]) == 30
    png = charts.to_png(spec)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_proportion_funnel_spec_formats_percent():
    d = funnel([5, 10, 40, 12], [100, 120, 150, 90], labels=list("ABCD"))
    spec = charts.funnel_spec(d, title="Readmissions")
    _valid(spec)
    assert spec["layer"][2]["encoding"]["y"]["axis"]["format"] == ".1%"
    assert "1 outside 99.8%" in spec["title"]["subtitle"]


def test_cusum_and_vlad_specs():
    p = np.full(200, 0.05)
    y = np.zeros(200)
    y[120:135] = 1
    d = bernoulli_cusum(y, p, h=3.5)
    spec = charts.cusum_spec(d, title="Mortality CUSUM")
    _valid(spec)
    line, onsets, _zero, limits = spec["layer"]
    assert min(r["s"] for r in line["data"]["values"]) <= 0  # improvement mirrored below zero
    assert (
        len(onsets["data"]["values"]) == 1
        and onsets["data"]["values"][0]["side"] == "Deterioration"
    )
    assert sorted(r["h"] for r in limits["data"]["values"]) == [-3.5, 3.5]
    assert "<svg" in charts.to_svg(spec)
    v = charts.vlad_spec(vlad(y, p), title="VLAD")
    _valid(v)
    assert v["data"]["values"][-1]["vlad"] == pytest.approx(200 * 0.05 - 15)


def test_sparkline_spec():
    spec = charts.sparkline_spec(
        [3, 4, 2, 8], x=pd.date_range("2024-01-01", periods=4, freq="MS"), signal=[0, 0, 0, 1]
    )
    _valid(spec)
    assert spec["layer"][0]["encoding"]["x"]["type"] == "temporal"
    assert spec["data"]["values"][-1] == {
        "x": "2024-04-01T00:00:00",
        "y": 8.0,
        "signal": True,
        "last": True,
    }
    assert "<svg" in charts.to_svg(spec)


def test_rendering_is_offline():
    spec = {"data": {"url": "https://example.org/data.csv"}, "mark": "point"}
    with pytest.raises(ValueError):
        charts.to_svg(spec)


def test_doc_examples_show_what_docs_statistics_md_says():
    from cmo.stats.examples import example_specs

    specs = example_specs()
    for spec in specs.values():
        _valid(spec)
    assert "non-random runs" in specs["run_chart"]["title"]["subtitle"]
    assert "outside the limits" in specs["p_chart_large_n"]["title"]["subtitle"]
    assert specs["pprime_chart"]["title"]["subtitle"].startswith("No signal")
    assert "overdispersion-adjusted" in specs["funnel_shmi"]["title"]["subtitle"]
