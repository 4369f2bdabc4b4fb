"""LOS: length of stay against the MS-DRG arithmetic mean LOS (LOS index, excess days).

Outcome per stay = LOS in days (discharge date - admission date); expected = the CMS Table 5
arithmetic mean LOS (AMLOS) of the stay's MS-DRG. LOS index = sum(observed) / sum(AMLOS);
excess days = sum(observed) - sum(AMLOS). The arithmetic mean is the expected value of a
stay's days, so a sum of days is compared with a sum of arithmetic means; the geometric mean
(GMLOS, Table 5's payment statistic) sits below the arithmetic mean of right-skewed LOS and
would make every hospital look long (CMS IPPS FY2026 Final Rule, Table 5; CMS computes both
means after removing deaths' and transfers' short stays and statistical outliers).

Population: adult acute stays with a grouped MS-DRG. Exclusions, in order (the stays Table 5's
means leave out, so observed and expected describe the same kind of stay): age unknown or
under 18; non-acute stay; no MS-DRG (``no_drg``); died in hospital (``died``); transferred to
another acute hospital (``transfer_out``); a statistical LOS outlier (``los_outlier``): LOS
above Q3 + 3 x IQR of the LOS of the MS-DRG's other eligible stays in the data (Tukey's
far-out fence, Tukey JW, Exploratory Data Analysis, 1977), applied when the MS-DRG has at least
``MIN_FOR_FENCE`` eligible stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from cmo.measures.library.common import ADULT_AGE, reason, skeleton
from cmo.measures.spec import Measure, MeasureSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

FENCE_IQR = 3.0
MIN_FOR_FENCE = 10

SPEC = MeasureSpec(
    measure_id="LOS",
    version="2.0",
    title="Length of stay",
    description="Mean LOS in days; the LOS index is observed over MS-DRG arithmetic mean LOS "
    "(deaths, transfers out and LOS outliers excluded).",
    unit_of_analysis="inpatient stay",
    method="Sum of LOS over sum of MS-DRG AMLOS (CMS Table 5, FY2026); excess days = O - E; "
    "outliers above Q3 + 3 IQR per MS-DRG excluded",
    citation="CMS IPPS FY2026 Final Rule Table 5 (arithmetic mean LOS); Tukey 1977 far-out "
    "fence for statistical outliers",
    direction="lower",
    group="efficiency",
    kind="mean",
    risk_adjusted=True,
    unit="days",
)


def fences(counts: pd.DataFrame) -> pd.DataFrame:
    """(drg, fence) from (drg, los_days, n) counts: Q3 + FENCE_IQR x IQR of each MS-DRG's LOS
    (numpy's linear quantiles over the expanded values), for MS-DRGs with enough stays."""
    rows = []
    for drg, g in counts.groupby("drg", sort=True):
        values = np.repeat(g["los_days"].to_numpy(float), g["n"].to_numpy(int))
        if len(values) < MIN_FOR_FENCE:
            continue
        q1, q3 = np.quantile(values, [0.25, 0.75])
        rows.append((drg, float(q3 + FENCE_IQR * (q3 - q1))))
    return pd.DataFrame(rows, columns=["drg", "fence"])


def long(ctx: Context) -> ir.Table:
    d = ctx.drg.select(_drg_stay=ctx.drg.stay_id, drg=ctx.drg.drg, amlos=ctx.drg.amlos)
    s = ctx.stays.left_join(d, ctx.stays.stay_id == d._drg_stay).drop("_drg_stay")
    why = reason(
        (s.age.isnull(), "age_unknown"),
        (s.age < ADULT_AGE, "age_under_18"),
        (~s.acute, "non_acute"),
        (s.amlos.isnull(), "no_drg"),
        (s.died_in_hospital, "died"),
        (s.transfer_out, "transfer_out"),
    )
    s = s.mutate(_why=why)
    eligible = s.filter(s._why.isnull() & (s.discharge_date <= ctx.data_end))
    counts = eligible.group_by(["drg", "los_days"]).aggregate(n=eligible.count()).to_pandas()
    f = ibis.memtable(fences(counts), schema=ibis.schema({"drg": "string", "fence": "float64"}))
    f = f.select(_f_drg=f.drg, fence=f.fence)
    s = s.left_join(f, s.drg == f._f_drg)
    outlier = (s.los_days > s.fence).fill_null(False)
    return skeleton(
        SPEC.measure_id,
        s,
        SPEC.attribution,
        in_population=s.discharge_date <= ctx.data_end,
        exclusion_reason=ibis.coalesce(
            s._why, ibis.cases((outlier, "los_outlier"), else_=ibis.null("string"))
        ),
        outcome=s.los_days.cast("float64"),
        expected=s.amlos,
        evidence_date=s.discharge_date,
    )


MEASURE = Measure(spec=SPEC, long=long)
