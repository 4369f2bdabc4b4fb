"""The example charts of docs/statistics.md, from seeded synthetic data (no patient data).

Run ``python -m cmo.stats.examples docs/img/stats`` to redraw them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cmo.stats import charts
from cmo.stats.cusum import bernoulli_cusum, vlad
from cmo.stats.funnel import funnel
from cmo.stats.spc import control_chart, run_chart

MONTHS = pd.date_range("2023-01-01", periods=30, freq="MS")


def _run_chart() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    # Median length of stay; a discharge-before-noon project lands in month 19.
    y = np.concatenate([rng.normal(4.6, 0.25, 18), rng.normal(4.2, 0.25, 12)])
    d = run_chart(np.round(y, 2), x=MONTHS)
    return charts.control_chart_spec(
        d,
        title="Run chart: median length of stay",
        y_title="Days",
        x_title="Discharge month",
        y_format=".1f",
        annotations=[{"x": MONTHS[18], "text": "Discharge before noon"}],
    )


def _p_chart() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    n = rng.integers(120, 260, 30)
    p = np.where(np.arange(30) < 14, 0.72, 0.86)
    x = rng.binomial(n, p)
    x[8] = int(n[8] * 0.55)  # one bad month
    phase = ["Before"] * 14 + ["After"] * 16
    d = control_chart(x, n, chart="p", x=MONTHS, part=phase)
    return charts.control_chart_spec(
        d,
        title="P chart: hand-hygiene compliance, before and after the campaign",
        y_title="Compliant observations",
        x_title="Month",
        percent=True,
        target=0.9,
        annotations=[{"x": MONTHS[14], "text": "Campaign"}],
    )


def _u_chart() -> dict[str, Any]:
    rng = np.random.default_rng(21)
    days = rng.integers(900, 1600, 30)
    infections = rng.poisson(days * 1.4 / 1000)
    infections[25] += 5
    d = control_chart(infections, days, chart="u", x=MONTHS, multiply=1000)
    return charts.control_chart_spec(
        d,
        title="U chart: CLABSI per 1,000 central-line days",
        y_title="Infections per 1,000 line days",
        x_title="Month",
        y_format=".2f",
    )


def _laney() -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(9)
    n = rng.integers(25000, 32000, 30)
    true_p = np.clip(rng.normal(0.95, 0.004, 30), 0, 1)  # real month-to-month variation
    x = rng.binomial(n, true_p)
    specs = []
    for chart, name in (("p", "P chart"), ("pprime", "Laney P′ chart")):
        d = control_chart(x, n, chart=chart, x=MONTHS)
        specs.append(
            charts.control_chart_spec(
                d,
                title=f"{name}: ED patients seen within 4 hours (≈28,000 a month)",
                y_title="Seen within 4 hours",
                x_title="Month",
                y_format=".1%",
                height=200,
            )
        )
    return specs[0], specs[1]


def _funnel() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    e = rng.uniform(15, 420, 45)
    o = rng.poisson(e * rng.lognormal(0, 0.12, 45)).astype(float)
    o[7] = round(e[7] * 1.8)
    d = funnel(o, expected=e, labels=[f"Hospital {i + 1}" for i in range(45)], od="shmi")
    return charts.funnel_spec(
        d, title="Funnel plot: 30-day mortality, observed / expected", x_title="Expected deaths"
    )


def _cusum() -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(14)
    parsonnet = rng.gamma(1.5, 8, 500)
    p = 1 / (1 + np.exp(-(-3.68 + 0.077 * parsonnet)))  # Steiner et al. 2000 risk model
    odds = np.where(np.arange(500) >= 300, 2.2, 1.0)  # odds of death double from case 301
    risk = odds * p / (1 - p + odds * p)
    y = (rng.random(500) < risk).astype(float)
    d = bernoulli_cusum(y, p, odds_ratio=2.0, arl0=2000, seed=1)
    c = charts.cusum_spec(d, title="Risk-adjusted CUSUM: cardiac surgery mortality")
    v = charts.vlad_spec(vlad(y, p), title="VLAD: cardiac surgery, lives saved vs expected")
    return c, v


def example_specs() -> dict[str, dict[str, Any]]:
    """Name → Vega-Lite spec for every example chart in docs/statistics.md."""
    p_plain, p_laney = _laney()
    cusum, vlad_chart = _cusum()
    return {
        "run_chart": _run_chart(),
        "p_chart_phases": _p_chart(),
        "u_chart": _u_chart(),
        "p_chart_large_n": p_plain,
        "pprime_chart": p_laney,
        "funnel_shmi": _funnel(),
        "cusum": cusum,
        "vlad": vlad_chart,
    }


def render_examples(out_dir: Path) -> list[Path]:
    """Write each example chart as an SVG file into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in example_specs().items():
        path = out_dir / f"{name}.svg"
        path.write_text(charts.to_svg(spec), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in render_examples(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/stats")):
        print(p, p.stat().st_size)
