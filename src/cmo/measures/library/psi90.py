"""PSI 90: Patient Safety and Adverse Events Composite (AHRQ PSI v2024), hospital level.

Method: AHRQ Quality Indicators, PSI 90 technical specification v2024 and the SAS QI software
v2024 (``PSI_HOSP_COMPOSITE.SAS``): the weighted mean of the ten components' reliability-
adjusted O/E ratios,

    PSI 90 = sum_i w_i * (a_i * OE_i + (1 - a_i)),   a_i = S_i / (S_i + N_i),

with AHRQ's v2024 component weights w_i and signal variances S_i (O/E scale), read from
``PSI_HOSP_Composite_Wt_v2024.sas`` / ``PSI_HOSP_Composite_Arrays_v2024.sas`` by
``scripts/extract_ahrq_psi.py``; N_i is the noise variance of the unit's O/E (AHRQ:
sum of p(1-p) over the stays / E^2; here (1 - E/n) / E, its value when every stay has the
mean risk, an upper bound, so the shrinkage is never weaker than AHRQ's); a component with fewer
than 3 stays contributes w_i (AHRQ's rule); variance sum_i w_i^2 S_i (1 - a_i) (v2024's
covariance matrix is diagonal), 95% CI +-1.96 SE. A component with stays but no fitted model
(no event in the reference window) takes AHRQ's v2024 reference population rate as its
expected rate. Computed for the system and each site, per month, quarter and year, from the
components' result rows (``Measure.finish``); its ``denominator`` is AHRQ's weighted
denominator (sum of w_i n_i). The long rows are the stays with at least one counted component
event (outcome 1), so the composite drills down to its harmed stays (each component's own rows
hold its whole denominator). No signals of its own: the components carry them (a composite of
shrunk ratios is not a count to chart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from cmo.measures.library.common import skeleton
from cmo.measures.library.psi_rules import PSI_IDS, VERSION, parameters, rules, stay_flags
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

SPEC = MeasureSpec(
    measure_id="PSI90",
    version=f"AHRQ {VERSION}",
    title="PSI 90 Patient safety and adverse events composite",
    description="Weighted, reliability-adjusted mean of the O/E ratios of PSI 03, 06, 08, 09, "
    "10, 11, 12, 13, 14 and 15 (1.0 = the system's expected harm; lower is better).",
    unit_of_analysis="hospital (system and sites); long rows: stays in any component's denominator",
    method="AHRQ PSI 90 v2024: component weights and signal variances from the AHRQ SAS QI "
    "software; O/E of each component from cmo's risk models",
    citation="AHRQ Quality Indicators, PSI 90 Patient Safety and Adverse Events Composite "
    "technical specification and SAS QI software v2024 (PSI_HOSP_COMPOSITE.SAS), July 2024",
    direction="lower",
    kind="proportion",
    risk_adjusted=True,
    unit="ratio",
    group="harm",
)
LEVELS = ("system", "site")  # AHRQ's PSI 90 is a hospital-level composite
MIN_COMPONENT_STAYS = 3  # AHRQ: a component with fewer stays contributes its weight (OE = 1)


def long(ctx: Context) -> ir.Table:
    """The stays with at least one counted component event (the composite's drill-down): its
    results are computed from the components' rows, so the other stays need no copy here."""
    t = stay_flags(ctx)
    events = []
    for psi in PSI_IDS:
        include, exclusions, num = rules(psi, t)
        ok = include & ~ibis.or_(*[c.fill_null(False) for c, _ in exclusions])
        events.append(ok & num.fill_null(False))
    t = t.filter(ibis.or_(*events))
    return skeleton(
        SPEC.measure_id,
        t,
        SPEC.attribution,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=ibis.null("string"),
        outcome=ibis.literal(1.0),
        evidence_date=t.discharge_date,
    )


def composite(
    rows: pd.DataFrame, params: dict[str, dict[str, float]] | None = None
) -> dict[str, Any]:
    """PSI 90 of one unit and period from its components' rows (``measure_id``,
    ``denominator``, ``numerator``, ``expected``): value, variance, SE, CI and per-component
    reliability weights (the arithmetic of PSI_HOSP_COMPOSITE.SAS)."""
    params = params or parameters()
    by_id: dict[str, dict[str, Any]] = {
        str(r["measure_id"]): {str(k): v for k, v in r.items()} for r in rows.to_dict("records")
    }
    value, var = 0.0, 0.0
    weights: dict[str, float] = {}
    for psi in PSI_IDS:
        p = params[psi]
        w, s, ref = p["weight"], p["signal_variance_oe"], p["reference_rate"]
        r = by_id.get(psi, {})
        n = float(r.get("denominator") or 0)
        if n < MIN_COMPONENT_STAYS:
            value += w
            weights[psi] = 0.0
            var += w * w * s  # AHRQ: (1 - a) = 1 for a component without data
            continue
        o = float(r.get("numerator") or 0.0)
        e = r.get("expected")
        e = float(e) if e is not None and np.isfinite(e) and e > 0 else n * ref
        noise = max(1.0 - e / n, 0.0) / e
        a = s / (s + noise)
        value += w * (a * (o / e) + (1.0 - a))
        var += w * w * s * (1.0 - a)
        weights[psi] = a
    se = float(np.sqrt(var))
    return {
        "value": value,
        "variance": var,
        "se": se,
        "ci_low": value - 1.96 * se,
        "ci_high": value + 1.96 * se,
        "reliability": weights,
    }


def finish(results: pd.DataFrame) -> pd.DataFrame:
    """The result rows with PSI 90's rows made from the components' rows: one per period and
    hospital unit (system, site) that any component has. ``denominator`` is AHRQ's weighted
    denominator (sum of w_i n_i over the components with 3+ stays, rounded), ``numerator`` the
    stays with a counted component event, ``rate`` = ``oe`` = the composite, with its 95% CI."""
    params = parameters()
    keys = ["period_type", "period_start", "level", "unit_id"]
    mine = results[results["measure_id"] == SPEC.measure_id]
    events = {tuple(k): n for k, n in zip(mine[keys].to_numpy(), mine["numerator"], strict=True)}
    comp = results[results["measure_id"].isin(PSI_IDS) & results["level"].isin(LEVELS)]
    rows = []
    for key, g in comp.groupby(keys, sort=True):
        c = composite(g, params)
        n = g.set_index("measure_id")["denominator"]
        weighted = sum(
            params[psi]["weight"] * float(n.get(psi, 0))
            for psi in PSI_IDS
            if float(n.get(psi, 0)) >= MIN_COMPONENT_STAYS
        )
        first = g.iloc[0]
        rows.append(
            {
                "measure_id": SPEC.measure_id,
                **dict(zip(keys, key, strict=True)),
                "unit_name": first["unit_name"],
                "site_id": first["site_id"],
                "denominator": round(weighted),
                "numerator": float(events.get(tuple(key), 0.0)),
                "rate": c["value"],
                "expected": np.nan,
                "oe": c["value"],
                "ci_low": c["ci_low"],
                "ci_high": c["ci_high"],
                "rsr": np.nan,
                "median": np.nan,
            }
        )
    out = results[results["measure_id"] != SPEC.measure_id]
    made = pd.DataFrame(rows, columns=list(results.columns))
    if "small_cell" in made:  # the composite is judged by its own reliability weights
        made["small_cell"] = False
    frames = [f for f in (out, made) if len(f)]
    if not frames:
        return results.iloc[0:0]
    return pd.concat(frames, ignore_index=True).astype(results.dtypes.to_dict())


MEASURE = Measure(spec=SPEC, long=long, risk_model=False, signals=False, finish=finish)
