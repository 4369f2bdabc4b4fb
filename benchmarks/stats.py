"""cmo.stats speed: the shapes the measures build and the web app use.

- control charts: one p chart per (measure x unit) series of 36 months, as the signals step does;
- funnel: one funnel over many units with SHMI overdispersion;
- CUSUM: the control limit for a target ARL0 by seeded simulation;
- NHSN SIR: mid-P intervals for many unit-periods at once;
- chart rendering: one control-chart spec to SVG and PNG (vl-convert, offline).

``python -m benchmarks stats [--quick]``
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(quick: bool) -> dict:
    from cmo.stats import charts
    from cmo.stats.cusum import limit_for_arl, markov_limit_for_arl
    from cmo.stats.funnel import funnel
    from cmo.stats.intervals import sir_midp
    from cmo.stats.spc import control_chart

    rng = np.random.default_rng(0)
    n_series = 50 if quick else 1000
    months = 36
    denominators = rng.integers(20, 400, (n_series, months))
    numerators = rng.binomial(denominators, 0.12)

    def charts_loop() -> int:
        signals = 0
        for i in range(n_series):
            d = control_chart(numerators[i], denominators[i], chart="p")
            signals += int(d["sigma_signal"].sum())
        return signals

    t_spc, _ = _timed(charts_loop)

    n_units = 500 if quick else 20000
    e = rng.uniform(5, 500, n_units)
    o = rng.poisson(e * rng.lognormal(0, 0.2, n_units))
    t_funnel, _ = _timed(lambda: funnel(o, expected=e, od="shmi"))

    p = np.clip(rng.beta(1, 15, 2000), 1e-3, 0.95)
    arl0 = 500 if quick else 5000
    t_cusum, h = _timed(lambda: limit_for_arl(p, 2.0, arl0, seed=0))
    # The build's limit for a large site: ARL0 = 20 years of 150,000 cases, by Markov chain.
    site = np.clip(rng.beta(1.2, 20, 15_000 if quick else 150_000), 1e-4, 0.9)
    t_markov, h_markov = _timed(lambda: markov_limit_for_arl(site, 2.0, 20.0 * site.size))

    n_sir = 1000 if quick else 100000
    t_sir, _ = _timed(lambda: sir_midp(rng.poisson(8, n_sir), rng.uniform(1, 20, n_sir)))

    spec = charts.control_chart_spec(
        control_chart(numerators[0], denominators[0], chart="p"), title="p", y_title="rate"
    )
    charts.to_svg(spec)  # the first call starts the JavaScript engine
    t_svg, _ = _timed(lambda: charts.to_svg(spec))
    t_png, _ = _timed(lambda: charts.to_png(spec))

    result = {
        "control_charts": n_series,
        "control_charts_per_s": round(n_series / t_spc, 1),
        "funnel_units": n_units,
        "funnel_shmi_s": round(t_funnel, 3),
        "cusum_arl0": arl0,
        "cusum_limit_s": round(t_cusum, 2),
        "cusum_h": round(float(h), 3),
        "cusum_markov_cases": site.size,
        "cusum_markov_limit_s": round(t_markov, 3),
        "cusum_markov_h": round(float(h_markov), 3),
        "sir_midp_n": n_sir,
        "sir_midp_s": round(t_sir, 3),
        "svg_render_s": round(t_svg, 3),
        "png_render_s": round(t_png, 3),
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    return result
