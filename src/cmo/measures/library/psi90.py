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
components' result rows (``Measure.finish``); the long rows are the stays in at least one
component's denominator, the outcome whether any counted component event happened in the
stay, so the composite drills down to its stays. No signals of its own: the components carry
them (a composite of shrunk ratios is not a count to chart).
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
    t = stay_flags(ctx)
    included, counted, events = [], [], []
    for psi in PSI_IDS:
        include, exclusions, num = rules(psi, t)
        ok = include & ~ibis.or_(*[c.fill_null(False) for c, _ in exclusions])
        included.append(include)
        counted.append(ok)
        events.append(ok & num.fill_null(False))
    t = t.mutate(_inc=ibis.or_(*included), _ok=ibis.or_(*counted), _ev=ibis.or_(*events))
    t = t.filter(t._inc)
    return skeleton(
        SPEC.measure_id,
        t,
        SPEC.attribution,
        in_population=t.discharge_date <= ctx.data_end,
        exclusion_reason=ibis.cases(
            (~t._ok, "excluded_from_every_component"), else_=ibis.null("string")
        ),
        outcome=t._ev.cast("float64"),
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
    """The result rows with PSI 90's system and site rows recomputed from the components'
    rows of the same period and unit (other levels dropped: AHRQ's composite is for
    hospitals)."""
    params = parameters()
    keys = ["period_type", "period_start", "level", "unit_id"]
    mine = results["measure_id"] == SPEC.measure_id
    comp = results[results["measure_id"].isin(PSI_IDS) & results["level"].isin(LEVELS)]
    groups = {k: g for k, g in comp.groupby(keys, sort=False, dropna=False)}
    out = results[~mine | results["level"].isin(LEVELS)].copy()
    idx = out.index[out["measure_id"] == SPEC.measure_id]
    for i in idx:
        key = tuple(out.loc[i, keys])
        g = groups.get(key)
        c = composite(g if g is not None else comp.iloc[0:0], params)
        out.loc[i, ["rate", "oe", "ci_low", "ci_high"]] = [
            c["value"],
            c["value"],
            c["ci_low"],
            c["ci_high"],
        ]
        out.loc[i, ["expected", "rsr", "median"]] = np.nan
    return out.reset_index(drop=True)


MEASURE = Measure(spec=SPEC, long=long, risk_model=False, signals=False, finish=finish)
