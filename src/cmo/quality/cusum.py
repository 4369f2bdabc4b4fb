"""The risk-adjusted CUSUM charts of the measure pages, drawn from what the build stored.

``cmo measures run`` writes each site's risk-adjusted Bernoulli CUSUM (Steiner SH, Cook RJ,
Farewell VT, Treasure T. Biostatistics 2000;1:441-452) of the last 12 months to
``quality__cusum`` (``cmo.measures.results.cusum_series``): one point per discharge day and
side, the limit h chosen for one false alarm in ARL0 in-control stays (20 years of the site's
stays: a 4.9% chance a year), the alarms and the restarts at 0 after them. This module only
turns those rows into a Vega-Lite spec (the charts library of every other page chart) and a
caption; it computes no statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cmo.measures.api import CusumPoint
from cmo.quality.analysis import as_date
from cmo.stats.charts import BLUE, FONT, GREEN, GREY, RED, SCHEMA

SIDES = {"upper": "Deterioration (worse)", "lower": "Improvement (better)"}


def charts(points: Sequence[CusumPoint], title: str) -> list[dict[str, Any]]:
    """One chart per site of ``points`` (a measure's stored series): spec, caption, alarms."""
    by_site: dict[str, list[CusumPoint]] = {}
    for p in points:
        by_site.setdefault(str(p["unit_id"]), []).append(p)
    return [_chart(site, rows, title) for site, rows in sorted(by_site.items())]


def _chart(site: str, rows: list[CusumPoint], title: str) -> dict[str, Any]:
    name = str(rows[0].get("unit_name") or site)
    limits = {str(r["side"]): float(r["h"]) for r in rows}
    odds = {str(r["side"]): float(r["odds_ratio"]) for r in rows}
    arl0 = float(rows[0]["arl0"])
    cases = max(int(r["cases"]) for r in rows)
    sign = {"upper": 1.0, "lower": -1.0}
    line = [
        {"day": _iso(r["day"]), "side": SIDES[str(r["side"])], "s": sign[r["side"]] * r["s"]}
        for r in rows
    ]
    alarms = [
        {
            "day": _iso(r["day"]),
            "side": SIDES[str(r["side"])],
            "s": sign[r["side"]] * r["s_max"],
            "value": r["s_max"],
            "h": r["h"],
            "direction": "worse" if r["side"] == "upper" else "better",
        }
        for r in rows
        if r["alarm"]
    ]
    words = {"upper": "worse", "lower": "better"}
    rules = [
        {"h": sign[side] * h, "label": f"limit h = {h:.2f} ({words[side]})"}
        for side, h in sorted(limits.items())
    ]
    x = {"field": "day", "type": "temporal", "title": "Discharge day"}
    y = {"field": "s", "type": "quantitative", "title": "CUSUM (log-likelihood ratio)"}
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": {
            "text": f"{title}: risk-adjusted CUSUM, {name}",
            "subtitle": "Up: evidence of deterioration; down: of improvement",
            "anchor": "start",
            "fontSize": 15,
        },
        "width": "container",
        "height": 240,
        "config": {
            "font": FONT,
            "view": {"stroke": None},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": False},
            "legend": {"orient": "bottom"},
        },
        "layer": [
            {
                "data": {"values": line},
                "mark": {"type": "line", "strokeWidth": 1.3, "interpolate": "step-after"},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": {
                        "field": "side",
                        "type": "nominal",
                        "title": None,
                        "scale": {"domain": list(SIDES.values()), "range": [BLUE, GREEN]},
                    },
                },
            },
            {
                "data": {"values": [{"z": 0}]},
                "mark": {"type": "rule", "color": GREY},
                "encoding": {"y": {"field": "z", "type": "quantitative"}},
            },
            {
                "data": {"values": rules},
                "mark": {"type": "rule", "color": RED, "strokeDash": [5, 3]},
                "encoding": {"y": {"field": "h", "type": "quantitative"}},
            },
            {
                "data": {"values": rules},
                "mark": {"type": "text", "align": "left", "dx": 4, "dy": -6, "color": RED},
                "encoding": {
                    "x": {"value": 0},
                    "y": {"field": "h", "type": "quantitative"},
                    "text": {"field": "label"},
                },
            },
            {
                "data": {"values": alarms},
                "mark": {"type": "point", "filled": True, "color": RED, "size": 60},
                "encoding": {
                    "x": x,
                    "y": y,
                    "shape": {"value": "diamond"},
                    "tooltip": [
                        {"field": "day", "type": "temporal", "title": "Alarm"},
                        {"field": "side", "title": "Side"},
                    ],
                },
            },
        ],
    }
    years = arl0 / cases if cases else None
    # The build chose h for a chance of 1 - e^(-cases / ARL0) of an in-control alarm within
    # the year (cmo.measures.results.cusum_limit): one false alarm per ARL0 stays.
    rate = -math.expm1(-cases / arl0) if cases and arl0 else None
    caption = (
        f"Risk-adjusted Bernoulli CUSUM (Steiner et al., Biostatistics 2000) of {name}'s "
        f"{cases:,} stays since {_since(rows)}, in discharge order: upward for a "
        f"doubling of the odds of the outcome (odds ratio {odds.get('upper', 2.0):g}), "
        f"downward for a halving ({odds.get('lower', 0.5):g}). Limits h = "
        f"{limits.get('upper', float('nan')):.2f} (worse) and "
        f"{limits.get('lower', float('nan')):.2f} (better) are set for one false alarm in "
        f"{arl0:,.0f} in-control stays"
        + (f" (about {years:.0f} years of this site's stays)" if years else "")
        + (f", a {rate:.1%} chance of one within a year" if rate else "")
        + "; the chart restarts at 0 after each alarm (red diamonds)."
    )
    return {
        "site": site,
        "name": name,
        "spec": spec,
        "spec_id": f"cusum-spec-{site}",
        "caption": caption,
        "alarms": alarms,
        "n_worse": sum(1 for a in alarms if a["direction"] == "worse"),
        "n_better": sum(1 for a in alarms if a["direction"] == "better"),
    }


def with_alarms(points: Sequence[CusumPoint]) -> list[CusumPoint]:
    """The points of the sites whose CUSUM alarmed (either side) in the charted months."""
    alarmed = {str(p["unit_id"]) for p in points if p["alarm"]}
    return [p for p in points if str(p["unit_id"]) in alarmed]


def _iso(v: Any) -> str:
    d = as_date(v)
    return d.isoformat() if d else ""


def _since(rows: list[CusumPoint]) -> str:
    d = as_date(rows[0].get("since"))
    return f"{d:%d %b %Y}" if d else "the chart's start"
