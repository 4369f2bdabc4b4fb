"""Vega-Lite v5 chart specs for run/control charts, funnel plots, CUSUM/VLAD and sparklines.

The specs are plain dicts with their data inline, so the web app can embed them with a locally
served vega-embed, reports can render them, and ``to_svg``/``to_png`` render them offline with
vl-convert (no CDN, no browser, external URLs refused).

Conventions follow qicharts2's plots: data as a line with dots; points outside the limits (3
sigma, or the probability limits of the measures build) in red; the centre line dashed and
orange when the Anhøj runs rules signal; limits as steps (they vary with n); a new centre line
and limits for each part (phase).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
VL_VERSION = "5.21"
BLUE = "#2E6DA4"  # data
GREY = "#6B6B6B"  # centre and limit lines
ORANGE = "#E8871E"  # runs signal; 95% funnel outliers
RED = "#C8102E"  # sigma signal; 99.8% outliers
GREEN = "#1B7F3B"  # target
FONT = "Helvetica, Arial, sans-serif"


# --------------------------------------------------------------------------- helpers


def _json_value(v: Any) -> Any:
    """A JSON-safe Python value: NaN/NaT/inf → None, numpy scalars → Python, dates → ISO."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, pd.Timestamp | datetime | date):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else pd.Timestamp(v).isoformat()
    return v if isinstance(v, int | str) else str(v)


def records(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-safe dicts (inline Vega-Lite data)."""
    cols = list(columns) if columns is not None else list(df.columns)
    return [
        {c: _json_value(v) for c, v in zip(cols, row, strict=True)}
        for row in df[cols].itertuples(index=False)
    ]


def _x_encoding(x: pd.Series, title: str) -> dict[str, Any]:
    if pd.api.types.is_datetime64_any_dtype(x.dtype):
        return {
            "field": "x",
            "type": "temporal",
            "title": title,
            "axis": {"format": "%b %Y", "labelAngle": 0, "tickCount": 8},
        }
    if pd.api.types.is_numeric_dtype(x.dtype):
        return {"field": "x", "type": "quantitative", "title": title, "scale": {"zero": False}}
    order = [str(v) for v in pd.unique(x)]
    return {"field": "x", "type": "ordinal", "title": title, "sort": order}


def _base(title: str, subtitle: str | None, width: int | str, height: int) -> dict[str, Any]:
    t: dict[str, Any] = {"text": title, "anchor": "start", "fontSize": 15}
    if subtitle:
        t["subtitle"] = subtitle
    return {
        "$schema": SCHEMA,
        "title": t,
        "width": width,
        "height": height,
        "config": {
            "font": FONT,
            "view": {"stroke": None},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": False},
            "legend": {"orient": "bottom"},
        },
    }


def _number_format(y_format: str | None, percent: bool) -> str:
    if y_format:
        return y_format
    return ".1%" if percent else ",.4~g"


# --------------------------------------------------------------------------- control charts


def control_chart_spec(
    df: pd.DataFrame,
    *,
    title: str,
    y_title: str,
    x_title: str = "Period",
    subtitle: str | None = None,
    y_format: str | None = None,
    percent: bool = False,
    target: float | None = None,
    annotations: Sequence[dict[str, Any]] | None = None,
    width: int | str = 640,
    height: int = 280,
) -> dict[str, Any]:
    """Run or control chart from ``cmo.stats.spc.control_chart``'s frame.

    Points outside the limits are red; excluded points hollow; the centre line is dashed and
    orange in a part whose runs rules signal; each part has its own centre line and limits.
    ``annotations``: [{"x": value, "text": "..."}] marked on the chart; ``width`` in pixels or
    "container" (the page's width). ``percent`` formats
    proportions as percentages (or give a d3 ``y_format``). A subtitle summarising the
    signals is added when none is given.
    """
    d = df.copy()
    fmt = _number_format(y_format, percent)
    x_enc = _x_encoding(df["x"], x_title)
    if subtitle is None:
        subtitle = _signal_summary(df)
    spec = _base(title, subtitle, width, height)
    spec["data"] = {
        "values": records(
            d,
            [
                c
                for c in (
                    "x",
                    "y",
                    "n",
                    "cl",
                    "ucl",
                    "lcl",
                    "part",
                    "include",
                    "runs_signal",
                    "sigma_signal",
                )
                if c in d.columns
            ],
        )
    }
    y_scale = {"zero": False}
    tooltip = [
        {**x_enc, "title": x_title},
        {"field": "y", "type": "quantitative", "title": y_title, "format": fmt},
        {"field": "cl", "type": "quantitative", "title": "Centre line", "format": fmt},
        {"field": "lcl", "type": "quantitative", "title": "Lower limit", "format": fmt},
        {"field": "ucl", "type": "quantitative", "title": "Upper limit", "format": fmt},
    ]
    if "n" in d.columns and d["n"].notna().any():
        tooltip.insert(2, {"field": "n", "type": "quantitative", "title": "n", "format": ","})
    for t in tooltip:
        t.pop("scale", None)
        t.pop("sort", None)
        t.pop("axis", None)
    layers: list[dict[str, Any]] = []
    for field, label in (("ucl", "Upper limit"), ("lcl", "Lower limit")):
        if d[field].notna().any():
            layers.append(
                {
                    "mark": {
                        "type": "line",
                        "interpolate": "step",
                        "color": GREY,
                        "strokeWidth": 1,
                    },
                    "encoding": {
                        "x": x_enc,
                        "y": {"field": field, "type": "quantitative"},
                        "detail": {"field": "part"},
                        "tooltip": {"value": label},
                    },
                }
            )
    layers.append(
        {
            "mark": {"type": "line", "strokeWidth": 1.5},
            "encoding": {
                "x": x_enc,
                "y": {"field": "cl", "type": "quantitative"},
                "detail": {"field": "part"},
                "color": {
                    "field": "runs_signal",
                    "type": "nominal",
                    "scale": {"domain": [False, True], "range": [GREY, ORANGE]},
                    "legend": None,
                },
                "strokeDash": {
                    "field": "runs_signal",
                    "type": "nominal",
                    "scale": {"domain": [False, True], "range": [[1, 0], [6, 4]]},
                    "legend": None,
                },
            },
        }
    )
    if target is not None:
        layers.append(
            {
                "data": {"values": [{"target": target}]},
                "mark": {"type": "rule", "color": GREEN, "strokeDash": [2, 2]},
                "encoding": {"y": {"field": "target", "type": "quantitative"}},
            }
        )
    layers.append(
        {
            "mark": {"type": "line", "color": BLUE, "strokeWidth": 1.5},
            "encoding": {
                "x": x_enc,
                "y": {
                    "field": "y",
                    "type": "quantitative",
                    "title": y_title,
                    "scale": y_scale,
                    "axis": {"format": fmt},
                },
            },
        }
    )
    layers.append(
        {
            "mark": {"type": "point", "size": 36, "strokeWidth": 1.5},
            "encoding": {
                "x": x_enc,
                "y": {"field": "y", "type": "quantitative"},
                "color": {
                    "field": "sigma_signal",
                    "type": "nominal",
                    "scale": {"domain": [False, True], "range": [BLUE, RED]},
                    "legend": None,
                },
                "fill": {
                    "condition": {"test": "datum.include === false", "value": "white"},
                    "field": "sigma_signal",
                    "type": "nominal",
                    "scale": {"domain": [False, True], "range": [BLUE, RED]},
                    "legend": None,
                },
                "opacity": {"value": 1},
                "tooltip": tooltip,
            },
        }
    )
    layers.extend(_annotation_layers(annotations, x_enc))
    spec["layer"] = layers
    spec["resolve"] = {"scale": {"color": "independent", "fill": "independent"}}
    return spec


def _annotation_layers(
    annotations: Sequence[dict[str, Any]] | None, x_enc: dict[str, Any]
) -> list[dict[str, Any]]:
    if not annotations:
        return []
    values = [{"x": _json_value(a["x"]), "text": str(a["text"])} for a in annotations]
    enc = {"x": {k: v for k, v in x_enc.items() if k != "title"}}
    return [
        {
            "data": {"values": values},
            "mark": {"type": "rule", "color": GREY, "strokeDash": [1, 3]},
            "encoding": enc,
        },
        {
            "data": {"values": values},
            "mark": {"type": "text", "align": "left", "dx": 3, "dy": -4, "y": 0, "fontSize": 10},
            "encoding": {**enc, "text": {"field": "text"}},
        },
    ]


def _signal_summary(df: pd.DataFrame) -> str:
    parts = []
    n_sigma = int(df["sigma_signal"].sum())
    if n_sigma:
        parts.append(f"{n_sigma} point{'s' if n_sigma > 1 else ''} outside the limits")
    if df["runs_signal"].any():
        parts.append("non-random runs (shift or trend)")
    chart = df.attrs.get("chart")
    if not parts:
        return "No signal: common-cause variation" if chart != "run" else "No non-random runs"
    return "Signal: " + "; ".join(parts)


# --------------------------------------------------------------------------- funnel plots


def funnel_spec(
    df: pd.DataFrame,
    *,
    title: str,
    x_title: str | None = None,
    y_title: str | None = None,
    subtitle: str | None = None,
    y_format: str | None = None,
    percent: bool | None = None,
    width: int = 560,
    height: int = 340,
) -> dict[str, Any]:
    """Funnel plot from ``cmo.stats.funnel.funnel``'s frame: units as points, 95% and 99.8%
    limits as smooth curves, the target as a line; 99.8% outliers red, 95% orange."""
    from cmo.stats.funnel import LEVELS, funnel_limits

    kind = df.attrs.get("kind", "proportion" if "denominator" in df.columns else "ratio")
    size_col = "denominator" if kind == "proportion" else "expected"
    target = float(df.attrs.get("target", df["target"].iloc[0]))
    tau2 = float(df.attrs.get("tau2", 0.0) or 0.0)
    od = df.attrs.get("od")
    percent = (kind == "proportion") if percent is None else percent
    fmt = _number_format(y_format, percent)
    x_title = x_title or ("Denominator" if kind == "proportion" else "Expected (E)")
    y_title = y_title or ("Proportion" if kind == "proportion" else "Observed / expected")
    size = df[size_col].to_numpy(float)
    lo_x = max(float(np.nanmin(size[size > 0])) * 0.8, 1.0) if np.any(size > 0) else 1.0
    hi_x = float(np.nanmax(size)) * 1.1 if np.any(size > 0) else 10.0
    grid = np.geomspace(lo_x, hi_x, 120)
    curve_rows = []
    for name, level in LEVELS.items():
        lo, hi = funnel_limits(grid, kind=kind, target=target, level=level, od=od, tau2=tau2)
        label = "95%" if name == "95" else "99.8%"
        for side, vals in (("lower", lo), ("upper", hi)):
            curve_rows += [
                {"size": float(g), "limit": float(v), "level": label, "side": side}
                for g, v in zip(grid, vals, strict=True)
                if np.isfinite(v)
            ]
    d = df.copy()
    d["status"] = np.where(
        d["outlier_99_8"], "Outside 99.8%", np.where(d["outlier_95"], "Outside 95%", "Within 95%")
    )
    d["label"] = d["label"].astype(str)
    if subtitle is None:
        n95, n998 = int(d["outlier_95"].sum()), int(d["outlier_99_8"].sum())
        subtitle = f"{len(d)} units; {n95} outside 95% limits, {n998} outside 99.8%"
        if tau2 > 0:
            subtitle += f" (overdispersion-adjusted, {str(od).upper()}, τ² = {tau2:.3g})"
    spec = _base(title, subtitle, width, height)
    spec["layer"] = [
        {
            "data": {"values": curve_rows},
            "mark": {"type": "line", "strokeWidth": 1.2},
            "encoding": {
                "x": {"field": "size", "type": "quantitative", "title": x_title},
                "y": {"field": "limit", "type": "quantitative"},
                "detail": {"field": "side"},
                "color": {
                    "field": "level",
                    "type": "nominal",
                    "title": "Limits",
                    "scale": {"domain": ["95%", "99.8%"], "range": [ORANGE, RED]},
                },
                "strokeDash": {
                    "field": "level",
                    "type": "nominal",
                    "scale": {"domain": ["95%", "99.8%"], "range": [[5, 3], [1, 0]]},
                    "legend": None,
                },
            },
        },
        {
            "data": {"values": [{"target": target}]},
            "mark": {"type": "rule", "color": GREY},
            "encoding": {"y": {"field": "target", "type": "quantitative"}},
        },
        {
            "data": {
                "values": records(
                    d,
                    ["label", "numerator", size_col, "ratio_or_rate", "status", "lcl_95", "ucl_95"],
                )
            },
            "mark": {"type": "point", "filled": True, "size": 55, "opacity": 0.9},
            "encoding": {
                "x": {"field": size_col, "type": "quantitative", "scale": {"type": "log"}},
                "y": {
                    "field": "ratio_or_rate",
                    "type": "quantitative",
                    "title": y_title,
                    "axis": {"format": fmt},
                    "scale": {"zero": False},
                },
                "shape": {
                    "field": "status",
                    "type": "nominal",
                    "title": "Unit",
                    "scale": {
                        "domain": ["Within 95%", "Outside 95%", "Outside 99.8%"],
                        "range": ["circle", "triangle-up", "square"],
                    },
                },
                "fill": {
                    "field": "status",
                    "type": "nominal",
                    "title": "Unit",
                    "scale": {
                        "domain": ["Within 95%", "Outside 95%", "Outside 99.8%"],
                        "range": [BLUE, ORANGE, RED],
                    },
                },
                "tooltip": [
                    {"field": "label", "title": "Unit"},
                    {
                        "field": "numerator",
                        "type": "quantitative",
                        "title": "Numerator",
                        "format": ",.4~g",
                    },
                    {
                        "field": size_col,
                        "type": "quantitative",
                        "title": x_title,
                        "format": ",.4~g",
                    },
                    {
                        "field": "ratio_or_rate",
                        "type": "quantitative",
                        "title": y_title,
                        "format": fmt,
                    },
                    {"field": "status", "title": "Status"},
                ],
            },
        },
    ]
    spec["resolve"] = {"scale": {"color": "independent"}}
    # One log x scale for curves and points, so the funnel reads across volumes.
    spec["layer"][0]["encoding"]["x"]["scale"] = {"type": "log"}
    return spec


# --------------------------------------------------------------------------- page funnels

WORSE_LABEL, BETTER_LABEL = "Worse than expected", "Better than expected"


def funnel_points_spec(
    df: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    named: bool,
    target: float = 1.0,
    lower_better: bool = True,
) -> dict[str, Any]:
    """Funnel plot from stored funnel points (quality__funnel_point: each unit's own 95% and
    99.8% limits, drawn as lines through the units), for the measure pages.

    Outside the 95% limits on the worse side: red and (for allowed roles) named; on the better
    side: green, unnamed on the chart (listed under it) so the labels stay readable.
    """
    size_col = (
        "expected" if "expected" in df.columns and df["expected"].notna().all() else "denominator"
    )
    d = df.copy().sort_values(size_col)
    d["size"] = d[size_col]
    d["who"] = d["name"] if named else "Practitioner"
    out = d["outlier_99_8"].astype(bool) | d["outlier_95"].astype(bool)
    high = d["ratio_or_rate"] > d["ucl_95"]
    worse = out & (high if lower_better else ~high)
    d["outlier"] = "Within limits"
    d.loc[out & ~worse, "outlier"] = BETTER_LABEL
    d.loc[worse, "outlier"] = WORSE_LABEL
    cols = ["size", "ratio_or_rate", "lcl_95", "ucl_95", "lcl_99_8", "ucl_99_8", "outlier", "who"]
    values = records(d, cols)
    x = {"field": "size", "type": "quantitative", "title": x_title}
    # Limits for tiny denominators run off to hundreds: keep the axis on the data (and twice
    # the target) and clip the limit lines, so every practitioner stays readable.
    ratios = d["ratio_or_rate"].astype(float)
    top = max(float(ratios.max()) if ratios.notna().any() else 0.0, 2.0 * target) * 1.15 or 1.0
    scale = {"domain": [0, top], "clamp": False}
    lines = [
        ({"field": f, "type": "quantitative", "scale": scale}, dash)
        for f, dash in (
            ("ucl_95", [4, 3]),
            ("lcl_95", [4, 3]),
            ("ucl_99_8", [1, 0]),
            ("lcl_99_8", [1, 0]),
        )
    ]
    layer: list[dict[str, Any]] = [
        {
            "mark": {
                "type": "line",
                "color": GREY,
                "strokeDash": dash,
                "interpolate": "monotone",
                "clip": True,
            },
            "encoding": {"x": x, "y": y},
        }
        for y, dash in lines
    ]
    layer.append(
        {
            "data": {"values": [{"target": target}]},
            "mark": {"type": "rule", "color": "#1f2937"},
            "encoding": {"y": {"field": "target", "type": "quantitative"}},
        }
    )
    tooltip = [
        {"field": "size", "type": "quantitative", "title": x_title, "format": ".1f"},
        {"field": "ratio_or_rate", "type": "quantitative", "title": y_title, "format": ".2f"},
    ]
    if named:
        tooltip.insert(0, {"field": "who", "type": "nominal", "title": "Practitioner"})
    layer.append(
        {
            "mark": {"type": "point", "filled": True, "size": 50, "opacity": 0.85},
            "encoding": {
                "x": x,
                "y": {
                    "field": "ratio_or_rate",
                    "type": "quantitative",
                    "title": y_title,
                    "scale": scale,
                },
                "color": {
                    "field": "outlier",
                    "type": "nominal",
                    "title": None,
                    "scale": {
                        "domain": ["Within limits", WORSE_LABEL, BETTER_LABEL],
                        "range": [BLUE, RED, GREEN],
                    },
                    "legend": {"orient": "bottom"},
                },
                "tooltip": tooltip,
            },
        }
    )
    if named:
        layer.append(
            {
                "transform": [{"filter": {"field": "outlier", "equal": WORSE_LABEL}}],
                "mark": {"type": "text", "align": "left", "dx": 7, "fontSize": 12, "color": RED},
                "encoding": {
                    "x": x,
                    "y": {"field": "ratio_or_rate", "type": "quantitative"},
                    "text": {"field": "who"},
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "width": "container",
        "height": 300,
        "title": {"text": title, "subtitle": "Dashed: 95% limits; solid: 99.8% limits"},
        "description": f"{title}: funnel plot of {y_title} against {x_title}",
        "data": {"values": values},
        "layer": layer,
    }


def calibration_spec(deciles: list[dict[str, Any]], *, title: str, percent: bool) -> dict[str, Any]:
    """Observed against predicted risk by decile, with the line of perfect calibration."""
    k = 100.0 if percent else 1.0
    # quality__model_card deciles: expected_rate and observed_rate (observed is a count).
    values: list[dict[str, Any]] = [
        {
            "predicted": float(r.get("expected_rate") or 0) * k,
            "observed": float(r.get("observed_rate") or 0) * k,
            "n": r.get("n"),
        }
        for r in deciles
    ]
    peaks: list[float] = [max(float(v["predicted"]), float(v["observed"])) for v in values]
    top = max([*peaks, 0.0]) * 1.05 or 1.0
    unit = " (%)" if percent else ""
    axis_x = {
        "field": "predicted",
        "type": "quantitative",
        "title": f"Mean predicted risk{unit}",
        "scale": {"domain": [0, top]},
    }
    axis_y = {
        "field": "observed",
        "type": "quantitative",
        "title": f"Observed rate{unit}",
        "scale": {"domain": [0, top]},
    }
    return {
        "$schema": SCHEMA,
        "width": "container",
        "height": 260,
        "title": {"text": title, "subtitle": "By decile of predicted risk; diagonal = perfect"},
        "description": f"{title}: calibration by decile",
        "layer": [
            {
                "data": {
                    "values": [{"predicted": 0, "observed": 0}, {"predicted": top, "observed": top}]
                },
                "mark": {"type": "line", "color": GREY, "strokeDash": [4, 3]},
                "encoding": {"x": axis_x, "y": axis_y},
            },
            {
                "data": {"values": values},
                "mark": {"type": "point", "filled": True, "size": 60, "color": BLUE},
                "encoding": {
                    "x": axis_x,
                    "y": axis_y,
                    "tooltip": [
                        {"field": "predicted", "format": ".2f", "type": "quantitative"},
                        {"field": "observed", "format": ".2f", "type": "quantitative"},
                        {"field": "n", "type": "quantitative"},
                    ],
                },
            },
        ],
    }


# --------------------------------------------------------------------------- CUSUM and VLAD


def cusum_spec(
    df: pd.DataFrame,
    *,
    title: str,
    x_title: str = "Case number",
    subtitle: str | None = None,
    width: int = 640,
    height: int = 260,
) -> dict[str, Any]:
    """Two-sided risk-adjusted CUSUM from ``bernoulli_cusum``: the upper CUSUM (deterioration)
    above zero, the lower (improvement) mirrored below, ±h as dashed red rules, signals red."""
    h_up, h_low = float(df["h_upper"].iloc[0]), float(df["h_lower"].iloc[0])
    t = df["t"].to_numpy(int)
    rows: list[dict[str, Any]] = []
    for side, s_col, sig_col, sign in (
        ("Deterioration", "s_upper", "signal_upper", 1.0),
        ("Improvement", "s_lower", "signal_lower", -1.0),
    ):
        s_vals = df[s_col].to_numpy(float) * sign
        sig = df[sig_col].to_numpy(bool)
        rows += [
            {"t": int(t[i]), "side": side, "s": float(s_vals[i]), "signal": bool(sig[i])}
            for i in range(len(df))
        ]
    if subtitle is None:
        ra = df.attrs.get("odds_ratio", 2.0)
        subtitle = f"Odds ratio {ra:g} up, {1 / ra:g} down; limits h = {h_up:.2f} / {h_low:.2f}"
    spec = _base(title, subtitle, width, height)
    spec["layer"] = [
        {
            "data": {"values": rows},
            "mark": {"type": "line", "strokeWidth": 1.3, "interpolate": "step-after"},
            "encoding": {
                "x": {"field": "t", "type": "quantitative", "title": x_title},
                "y": {
                    "field": "s",
                    "type": "quantitative",
                    "title": "CUSUM (log-likelihood ratio)",
                },
                "color": {
                    "field": "side",
                    "type": "nominal",
                    "title": None,
                    "scale": {"domain": ["Deterioration", "Improvement"], "range": [BLUE, GREEN]},
                },
            },
        },
        {
            # Mark where a signal starts (the CUSUM is not reset, so it stays above h).
            "data": {"values": _signal_onsets(rows)},
            "mark": {"type": "point", "filled": True, "color": RED, "size": 25},
            "encoding": {
                "x": {"field": "t", "type": "quantitative"},
                "y": {"field": "s", "type": "quantitative"},
                "tooltip": [{"field": "t", "title": "Case"}, {"field": "side", "title": "Signal"}],
            },
        },
        {
            "data": {"values": [{"z": 0}]},
            "mark": {"type": "rule", "color": GREY},
            "encoding": {"y": {"field": "z", "type": "quantitative"}},
        },
        {
            "data": {"values": [{"h": h_up}, {"h": -h_low}]},
            "mark": {"type": "rule", "color": RED, "strokeDash": [5, 3]},
            "encoding": {"y": {"field": "h", "type": "quantitative"}},
        },
    ]
    return spec


def _signal_onsets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    onsets, before = [], {"Deterioration": False, "Improvement": False}
    for r in rows:
        if r["signal"] and not before[r["side"]]:
            onsets.append(r)
        before[r["side"]] = r["signal"]
    return onsets


def vlad_spec(
    values: Any,
    *,
    title: str,
    x_title: str = "Case number",
    y_title: str = "Expected minus observed (cumulative)",
    subtitle: str | None = None,
    width: int = 640,
    height: int = 240,
) -> dict[str, Any]:
    """Variable life-adjusted display: rising = fewer adverse outcomes than expected."""
    v = np.asarray(values, float)
    rows = [{"t": i + 1, "vlad": float(x)} for i, x in enumerate(v)]
    if subtitle is None and v.size:
        subtitle = f"After {v.size} cases: {v[-1]:+.1f} (expected minus observed)"
    spec = _base(title, subtitle, width, height)
    spec["data"] = {"values": rows}
    spec["layer"] = [
        {
            "mark": {"type": "line", "color": BLUE, "strokeWidth": 1.3},
            "encoding": {
                "x": {"field": "t", "type": "quantitative", "title": x_title},
                "y": {"field": "vlad", "type": "quantitative", "title": y_title},
                "tooltip": [
                    {"field": "t", "title": "Case"},
                    {"field": "vlad", "title": "E − O", "format": "+.2f"},
                ],
            },
        },
        {
            "data": {"values": [{"z": 0}]},
            "mark": {"type": "rule", "color": GREY},
            "encoding": {"y": {"field": "z", "type": "quantitative"}},
        },
    ]
    return spec


def sparkline_spec(
    y: Any,
    x: Any = None,
    *,
    signal: Any = None,
    width: int | str = 120,
    height: int = 28,
    y_format: str = ",.3~g",
) -> dict[str, Any]:
    """A small line without axes; the last point dotted, signal points (bool per point) red."""
    yv = np.asarray(y, float)
    xv = list(range(1, yv.size + 1)) if x is None else [_json_value(v) for v in x]
    sig = np.zeros(yv.size, bool) if signal is None else np.asarray(signal, bool)
    rows = [
        {"x": xv[i], "y": _json_value(yv[i]), "signal": bool(sig[i]), "last": i == yv.size - 1}
        for i in range(yv.size)
    ]
    x_type = "quantitative"
    if x is not None:
        xs = list(x)
        if all(isinstance(v, date | datetime | np.datetime64) for v in xs):
            x_type = "temporal"
        elif not pd.api.types.is_numeric_dtype(pd.Series(xs).dtype):
            x_type = "ordinal"
    axis_free = {"axis": None}
    return {
        "$schema": SCHEMA,
        "width": width,
        "height": height,
        "padding": 2,
        "config": {"view": {"stroke": None}},
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "line", "color": BLUE, "strokeWidth": 1.2},
                "encoding": {
                    "x": {"field": "x", "type": x_type, **axis_free},
                    "y": {
                        "field": "y",
                        "type": "quantitative",
                        "scale": {"zero": False},
                        **axis_free,
                    },
                },
            },
            {
                "transform": [{"filter": "datum.signal || datum.last"}],
                "mark": {"type": "point", "filled": True, "size": 14},
                "encoding": {
                    "x": {"field": "x", "type": x_type},
                    "y": {"field": "y", "type": "quantitative"},
                    "color": {
                        "field": "signal",
                        "type": "nominal",
                        "scale": {"domain": [False, True], "range": [BLUE, RED]},
                        "legend": None,
                    },
                    "tooltip": [{"field": "y", "type": "quantitative", "format": y_format}],
                },
            },
        ],
    }


# --------------------------------------------------------------------------- rendering


def _spec_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, allow_nan=False, default=_json_value)


def to_svg(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to SVG offline (vl-convert; external data URLs refused)."""
    import vl_convert as vlc

    return str(vlc.vegalite_to_svg(_spec_json(spec), vl_version=VL_VERSION, allowed_base_urls=[]))


def to_png(spec: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """Render a Vega-Lite spec to PNG offline (vl-convert), ``scale`` × its pixel size."""
    import vl_convert as vlc

    return bytes(
        vlc.vegalite_to_png(
            _spec_json(spec), vl_version=VL_VERSION, scale=scale, allowed_base_urls=[]
        )
    )
