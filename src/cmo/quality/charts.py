"""Vega-Lite v5 specs for the quality pages, rendered in the browser by vega-embed.

Prefers the statistics library's builders (``cmo.stats.charts``) so a chart looks the same on
the page, in the board PDF and in a PNG export; the small builders here are used for what it
does not offer (sparkline tiles, calibration) or while it is not installed.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
CONFIG = {
    "font": FONT,
    "axis": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": 600,
        "gridColor": "#e5e7eb",
        "labelColor": "#374151",
        "titleColor": "#111827",
    },
    "title": {"fontSize": 15, "anchor": "start", "color": "#111827", "fontWeight": 600},
    "view": {"stroke": None},
}
INK, ACCENT, WARN, MUTED, GOOD = "#1f2937", "#1d4ed8", "#b91c1c", "#6b7280", "#047857"
WORSE_LABEL, BETTER_LABEL = "Worse than expected", "Better than expected"


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    return [{c: _clean(r[c]) for c in cols} for r in df[cols].to_dict("records")]


def control_chart(df: pd.DataFrame, *, title: str, y_title: str) -> dict[str, Any]:
    """Monthly points with centre line and 3-sigma limits; signals in red."""
    d = df.copy()
    d["x"] = pd.to_datetime(d["x"]).dt.strftime("%Y-%m-%d")
    d["signal"] = (d["sigma_signal"] | d["runs_signal"]).map(
        {True: "Signal", False: "Common-cause"}
    )
    values = _records(d, ["x", "y", "cl", "ucl", "lcl", "signal"])
    x = {
        "field": "x",
        "type": "temporal",
        "title": "Discharge month",
        "axis": {"format": "%b %Y", "labelAngle": 0, "tickCount": 6},
    }
    step = {"interpolate": "step-after"}
    return {
        "$schema": SCHEMA,
        "config": CONFIG,
        "width": "container",
        "height": 260,
        "title": {"text": title, "subtitle": "Centre line and 3-sigma control limits"},
        "description": f"{title}: control chart of {y_title} by month",
        "data": {"values": values},
        "encoding": {"x": x},
        "layer": [
            {
                "mark": {"type": "line", "color": MUTED, "strokeDash": [4, 3], **step},
                "encoding": {"y": {"field": "ucl", "type": "quantitative", "title": y_title}},
            },
            {
                "mark": {"type": "line", "color": MUTED, "strokeDash": [4, 3], **step},
                "encoding": {"y": {"field": "lcl", "type": "quantitative"}},
            },
            {
                "mark": {"type": "line", "color": INK, **step},
                "encoding": {"y": {"field": "cl", "type": "quantitative"}},
            },
            {
                "mark": {"type": "line", "color": ACCENT, "point": False},
                "encoding": {"y": {"field": "y", "type": "quantitative", "title": y_title}},
            },
            {
                "mark": {"type": "point", "filled": True, "size": 45},
                "encoding": {
                    "y": {"field": "y", "type": "quantitative"},
                    "color": {
                        "field": "signal",
                        "type": "nominal",
                        "scale": {"domain": ["Common-cause", "Signal"], "range": [ACCENT, WARN]},
                        "legend": {"title": None, "orient": "bottom"},
                    },
                    "tooltip": [
                        {"field": "x", "type": "temporal", "title": "Month", "format": "%b %Y"},
                        {"field": "y", "type": "quantitative", "title": y_title, "format": ".3~f"},
                    ],
                },
            },
        ],
    }


def sparkline(df: pd.DataFrame, *, title: str, y_title: str) -> dict[str, Any]:
    """Tiny trend line for a tile, last point emphasised; axes hidden (the tile states values)."""
    d = df.copy()
    d["x"] = pd.to_datetime(d["x"]).dt.strftime("%Y-%m-%d")
    values = _records(d, ["x", "y", "cl"])
    enc_x = {"field": "x", "type": "temporal", "axis": None}
    return {
        "$schema": SCHEMA,
        "config": CONFIG,
        "width": "container",
        "height": 44,
        "description": f"{title}: trend of {y_title} by month",
        "data": {"values": values},
        "encoding": {"x": enc_x},
        "layer": [
            {
                "mark": {"type": "line", "color": "#9ca3af", "strokeDash": [3, 3]},
                "encoding": {
                    "y": {
                        "field": "cl",
                        "type": "quantitative",
                        "axis": None,
                        "scale": {"zero": False},
                    }
                },
            },
            {
                "mark": {"type": "line", "color": ACCENT, "strokeWidth": 1.8},
                "encoding": {
                    "y": {
                        "field": "y",
                        "type": "quantitative",
                        "axis": None,
                        "scale": {"zero": False},
                    }
                },
            },
        ],
    }


def funnel(
    df: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    named: bool,
    target: float = 1.0,
    lower_better: bool = True,
) -> dict[str, Any]:
    """Funnel plot: each practitioner against 95% and 99.8% limits.

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
    values = _records(d, cols)
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
                "color": MUTED,
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
            "mark": {"type": "rule", "color": INK},
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
                        "range": [ACCENT, WARN, GOOD],
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
                "mark": {"type": "text", "align": "left", "dx": 7, "fontSize": 12, "color": WARN},
                "encoding": {
                    "x": x,
                    "y": {"field": "ratio_or_rate", "type": "quantitative"},
                    "text": {"field": "who"},
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "config": CONFIG,
        "width": "container",
        "height": 300,
        "title": {"text": title, "subtitle": "Dashed: 95% limits; solid: 99.8% limits"},
        "description": f"{title}: funnel plot of {y_title} against {x_title}",
        "data": {"values": values},
        "layer": layer,
    }


def calibration(deciles: list[dict[str, Any]], *, title: str, percent: bool) -> dict[str, Any]:
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
        "config": CONFIG,
        "width": "container",
        "height": 260,
        "title": {"text": title, "subtitle": "By decile of predicted risk; diagonal = perfect"},
        "description": f"{title}: calibration by decile",
        "layer": [
            {
                "data": {
                    "values": [{"predicted": 0, "observed": 0}, {"predicted": top, "observed": top}]
                },
                "mark": {"type": "line", "color": MUTED, "strokeDash": [4, 3]},
                "encoding": {"x": axis_x, "y": axis_y},
            },
            {
                "data": {"values": values},
                "mark": {"type": "point", "filled": True, "size": 60, "color": ACCENT},
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
