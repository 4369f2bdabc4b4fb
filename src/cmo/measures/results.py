"""Aggregates of the long rows (period x level x unit) and the signals on top of them.

Counting happens in the engine (one union of group-bys); the few thousand aggregate rows then
get their intervals in Python with ``cmo.stats`` (exact Poisson CI of O/E, Ulm 1990).
For LOS the "observed" are days and the "expected" GMLOS days: O/E is the LOS index, and its
exact Poisson interval treats days as counts (no over-dispersion; narrower than a bootstrap).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from cmo.measures.core import source

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Measure
    from cmo.warehouse import Warehouse

PERIOD_TYPES = ("month", "quarter", "year")
LEVELS = ("system", "site", "department", "unit", "practitioner")
LEVEL_COLUMN = {
    "site": "site_id",
    "department": "department_id",
    "unit": "unit_id",
    "practitioner": "practitioner_id",
}
TRUNC = {"month": "M", "quarter": "Q", "year": "Y"}
RESULT_COLUMNS = [
    "measure_id",
    "period_type",
    "period_start",
    "level",
    "unit_id",
    "unit_name",
    "site_id",
    "denominator",
    "numerator",
    "rate",
    "expected",
    "oe",
    "ci_low",
    "ci_high",
    "rsr",
    "median",
]


def unit_exposure(rows: ir.Table, exposure: ir.Table | None) -> ir.Table:
    """``rows`` with ``unit_id`` replaced by every unit its stay passed through (one row per
    stay x unit, from core__stay_unit); stays without exposure rows keep their own unit_id.

    So unit-level counts are not a partition of the site: a stay moved from the ICU to a ward
    counts once at each (SCCM/ANZICS ICU mortality: every ICU admission is in the denominator).
    """
    if exposure is None:
        return rows
    ex = exposure.select("stay_id", _exposed_unit=exposure.unit_id)
    t = rows.left_join(ex, "stay_id")
    return t.mutate(unit_id=ibis.coalesce(t._exposed_unit, t.unit_id)).drop("_exposed_unit")


def aggregate(long: ir.Table, exposure: ir.Table | None = None) -> pd.DataFrame:
    """Denominator, numerator, expected (and median outcome) per measure x period x level x unit.

    The unit level counts each stay at every unit it passed through (``exposure`` =
    core__stay_unit; see :func:`unit_exposure`); the other levels partition the stays."""
    pop = long.filter(long.in_population & ~long.excluded)
    by_unit = unit_exposure(pop, exposure)
    parts = []
    for period_type in PERIOD_TYPES:
        for level in LEVELS:
            src = by_unit if level == "unit" else pop
            start = src.period_month.truncate(TRUNC[period_type]).cast("date")
            unit: Any = (
                ibis.literal("all")
                if level == "system"
                else src[LEVEL_COLUMN[level]].fill_null("unknown")
            )
            g = src.mutate(
                period_type=ibis.literal(period_type),
                period_start=start,
                level=ibis.literal(level),
                unit_key=unit,
            )
            parts.append(
                g.group_by(
                    ["measure_id", "period_type", "period_start", "level", "unit_key"]
                ).aggregate(
                    denominator=g.stay_id.count(),
                    numerator=g.outcome.sum(),
                    expected=g.expected.sum(),
                    median=g.outcome.median(),
                )
            )
    agg = ibis.union(*parts).to_pandas()
    return agg.rename(columns={"unit_key": "unit_id"})


def unit_sites(long: ir.Table, exposure: ir.Table | None = None) -> pd.DataFrame:
    """(level, unit_id) -> the site where most of that unit's stays are."""
    pop = long.filter(long.in_population)
    parts = []
    for level, col in LEVEL_COLUMN.items():
        src = unit_exposure(pop, exposure) if level == "unit" else pop
        g = src.mutate(level=ibis.literal(level), unit_key=src[col].fill_null("unknown"))
        parts.append(g.group_by(["level", "unit_key", "site_id"]).aggregate(n=g.stay_id.count()))
    frame = ibis.union(*parts).to_pandas()
    if frame.empty:
        return pd.DataFrame(columns=["level", "unit_id", "site_id"])
    frame = frame.sort_values(["level", "unit_key", "n", "site_id"], ascending=[1, 1, 0, 1])
    frame = frame.drop_duplicates(["level", "unit_key"])
    return frame.rename(columns={"unit_key": "unit_id"})[["level", "unit_id", "site_id"]]


def unit_names(wh: Warehouse) -> dict[str, dict[str, str]]:
    """Display names per level: organisations, locations, practitioners."""
    orgs = source(wh, "fhir__organization").select("id", "name").to_pandas()
    locs = source(wh, "fhir__location").select("id", "name").to_pandas()
    prac = source(wh, "fhir__practitioner").select("id", "family", "given").to_pandas()
    org_names = dict(zip(orgs["id"], orgs["name"], strict=True))
    prac_names = {
        pid: ", ".join(str(v) for v in (fam, giv) if isinstance(v, str) and v)
        for pid, fam, giv in zip(prac["id"], prac["family"], prac["given"], strict=True)
    }
    return {
        "system": {"all": "All sites"},
        "site": org_names,
        "department": org_names,
        "unit": dict(zip(locs["id"], locs["name"], strict=True)),
        "practitioner": prac_names,
    }


def finish(
    agg: pd.DataFrame,
    measures: dict[str, Measure],
    reference_rates: dict[str, float],
    names: dict[str, dict[str, str]],
    sites: pd.DataFrame,
) -> pd.DataFrame:
    """Rates, O/E with exact Poisson 95% CI, risk-standardised rates, names, sites."""
    from cmo.stats.intervals import poisson_oe

    out = agg.copy()
    out["denominator"] = out["denominator"].astype("int64")
    out["numerator"] = out["numerator"].astype(float)
    out["expected"] = pd.to_numeric(out["expected"], errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"] = np.where(
            out["denominator"] > 0, out["numerator"] / out["denominator"], np.nan
        )
        has_e = out["expected"].fillna(0) > 0
        e = out["expected"].where(has_e, np.nan).to_numpy(float)
        o = out["numerator"].to_numpy(float)
        out["oe"] = o / e
        lo, hi = poisson_oe(np.where(has_e, o, 0.0), np.where(has_e, e, 1.0))
        out["ci_low"] = np.where(has_e, lo, np.nan)
        out["ci_high"] = np.where(has_e, hi, np.nan)
    ref = out["measure_id"].map(reference_rates).astype(float)
    out["rsr"] = out["oe"] * ref
    for mid, m in measures.items():
        if not m.spec.risk_adjusted:
            out.loc[out["measure_id"] == mid, ["oe", "ci_low", "ci_high", "rsr"]] = np.nan
    out["unit_name"] = [
        names.get(level, {}).get(uid, uid)
        for level, uid in zip(out["level"], out["unit_id"], strict=True)
    ]
    out = out.merge(sites, on=["level", "unit_id"], how="left")
    out.loc[out["level"] == "site", "site_id"] = out.loc[out["level"] == "site", "unit_id"]
    out.loc[out["level"] == "system", "site_id"] = None
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    out = out.sort_values(["measure_id", "period_type", "period_start", "level", "unit_id"])
    return out[RESULT_COLUMNS].reset_index(drop=True)


# -- signals -------------------------------------------------------------------------------------
SIGNAL_COLUMNS = [
    "measure_id",
    "level",
    "unit_id",
    "unit_name",
    "site_id",
    "period_start",
    "kind",
    "direction",
    "detail",
]


def _worse(value: float, centre: float, direction: str) -> str:
    higher = value > centre
    return "worse" if higher == (direction == "lower") else "better"


def complete_periods(results: pd.DataFrame, data_end: date) -> pd.DataFrame:
    """Rows whose period ended by the data end: a partial last month is not a signal."""
    months = results["period_type"].map({"month": 1, "quarter": 3, "year": 12})
    start = pd.to_datetime(results["period_start"])
    ends = [s + pd.DateOffset(months=int(m)) for s, m in zip(start, months, strict=True)]
    return results[
        pd.Series(ends, index=results.index) <= pd.Timestamp(data_end) + pd.Timedelta(days=1)
    ]


def signals(
    results: pd.DataFrame, measures: dict[str, Measure], data_end: date | None = None
) -> pd.DataFrame:
    """Control-chart (sigma, runs) signals on monthly system/site series, funnel outliers on
    the O/E of departments, units and practitioners over the whole data (yearly periods)."""
    rows: list[dict[str, Any]] = []
    keep = [mid for mid, m in measures.items() if m.signals]
    results = results[results["measure_id"].isin(keep)]
    if data_end is not None:
        results = complete_periods(results, data_end)
    monthly = results[
        (results["period_type"] == "month") & results["level"].isin(["system", "site"])
    ]
    for (mid, level, uid), g in monthly.groupby(["measure_id", "level", "unit_id"], sort=True):
        g = g.sort_values("period_start")
        if len(g) < 3:
            continue
        rows.extend(_chart_signals(g, measures[str(mid)], str(level), str(uid)))
    rows.extend(_funnel_signals(results, measures))
    frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    return frame


def _chart_signals(g: pd.DataFrame, m: Measure, level: str, uid: str) -> list[dict[str, Any]]:
    from cmo.stats.spc import control_chart

    if m.spec.kind == "proportion":
        chart = control_chart(
            g["numerator"].to_numpy(float), g["denominator"].to_numpy(float), chart="p"
        )
    else:
        chart = control_chart(g["rate"].to_numpy(float), chart="i")
    base = {
        "measure_id": m.spec.measure_id,
        "level": level,
        "unit_id": uid,
        "unit_name": g["unit_name"].iloc[0],
        "site_id": g["site_id"].iloc[0],
    }
    rows = []
    starts = g["period_start"].tolist()
    records: list[dict[str, Any]] = chart.to_dict("records")  # type: ignore[assignment]
    for i, r in enumerate(records):
        if bool(r["sigma_signal"]):
            rows.append(
                base
                | {
                    "period_start": starts[i],
                    "kind": "sigma",
                    "direction": _worse(float(r["y"]), float(r["cl"]), m.spec.direction),
                    "detail": f"{r['y']:.4g} outside limits {r['lcl']:.4g}-{r['ucl']:.4g}",
                }
            )
    last: Any = chart.iloc[-1]
    if bool(last["runs_signal"]):
        rows.append(
            base
            | {
                "period_start": starts[-1],
                "kind": "runs",
                "direction": _worse(float(last["y"]), float(last["cl"]), m.spec.direction),
                "detail": f"non-random variation: longest run {int(last['longest_run'])} "
                f"(max {int(last['longest_run_max'])}), crossings {int(last['n_crossings'])} "
                f"(min {int(last['n_crossings_min'])})",
            }
        )
    return rows


def _funnel_signals(results: pd.DataFrame, measures: dict[str, Measure]) -> list[dict[str, Any]]:
    from cmo.stats.funnel import funnel

    rows: list[dict[str, Any]] = []
    yearly = results[
        (results["period_type"] == "year")
        & results["level"].isin(["department", "unit", "practitioner"])
        # NHSN rule for SIRs: no ratio when fewer than 1 event is expected.
        & (results["expected"].fillna(0) >= 1)
    ]
    for (mid, level, start), g in yearly.groupby(["measure_id", "level", "period_start"]):
        mid = str(mid)
        if not measures[mid].spec.risk_adjusted or len(g) < 3:
            continue
        # Days (LOS) are not Poisson counts: their variance far exceeds the mean, so exact
        # Poisson limits flag most units. Mean measures get the SHMI overdispersion
        # adjustment (NHS Digital SHMI methodology; Spiegelhalter 2005 §4); counts keep the
        # exact limits.
        f = funnel(
            g["numerator"].to_numpy(float),
            expected=g["expected"].to_numpy(float),
            labels=g["unit_id"].to_list(),
            od="shmi" if measures[mid].spec.kind == "mean" else None,
        )
        for (_i, r), (_j, src) in zip(f.iterrows(), g.iterrows(), strict=True):
            for kind, flag in (("funnel_99_8", "outlier_99_8"), ("funnel_95", "outlier_95")):
                if bool(r[flag]):
                    rows.append(
                        {
                            "measure_id": mid,
                            "level": level,
                            "unit_id": src["unit_id"],
                            "unit_name": src["unit_name"],
                            "site_id": src["site_id"],
                            "period_start": start,
                            "kind": kind,
                            "direction": _worse(
                                float(r["ratio_or_rate"]), 1.0, measures[mid].spec.direction
                            ),
                            "detail": f"O/E {float(r['ratio_or_rate']):.3g} "
                            f"(O {src['numerator']:.0f}, E {src['expected']:.1f})",
                        }
                    )
                    break
    return rows


CUSUM_H = 4.5  # Steiner et al. 2000 used h = 4.5 for R_A = 2 on cardiac-surgery mortality
CUSUM_MONTHS = 12


def cusum_signals(
    long: ir.Table, results: pd.DataFrame, measures: dict[str, Measure]
) -> pd.DataFrame:
    """Risk-adjusted Bernoulli CUSUM (Steiner 2000; odds ratio 2 up, 1/2 down, h = 4.5) of each
    site's stays of the last 12 months, in discharge order, for the risk-adjusted proportions.

    One row per measure x site x side that crossed h: the month of the latest crossing."""
    from datetime import timedelta

    from cmo.stats.cusum import bernoulli_cusum

    ids = [m for m, spec in measures.items() if spec.risk_model]
    if not ids:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    last = long.discharge_date.max().execute()
    if last is None or pd.isna(last):
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    since = pd.Timestamp(last).date() - timedelta(days=365 * CUSUM_MONTHS // 12)
    t = long.filter(
        long.measure_id.isin(ids)
        & long.in_population
        & ~long.excluded
        & long.expected.notnull()
        & (long.discharge_date > since)
    )
    # Ordered in the engine (a sort of ~1.4M rows at 1M stays is ~4x faster there than pandas
    # sorting string ids per group); groupby below keeps that order within each group.
    frame = (
        t.select("measure_id", "site_id", "discharge_date", "stay_id", "outcome", "expected")
        .order_by(["measure_id", "site_id", "discharge_date", "stay_id"])
        .to_pyarrow()
        .to_pandas()
    )
    names = results[results["level"] == "site"].drop_duplicates("unit_id")
    site_name = dict(zip(names["unit_id"], names["unit_name"], strict=True))
    rows = []
    odds = {"upper": 2.0, "lower": 0.5}
    for (mid, site), g in frame.groupby(["measure_id", "site_id"], sort=True):
        p = g["expected"].clip(1e-6, 1 - 1e-6).to_numpy(float)
        chart = bernoulli_cusum(g["outcome"].to_numpy(float), p, odds_ratio=2.0, h=CUSUM_H)
        for side, direction in (("upper", "worse"), ("lower", "better")):
            hits = np.flatnonzero(chart[f"signal_{side}"].to_numpy())
            if not len(hits):
                continue
            when = pd.Timestamp(g["discharge_date"].iloc[hits[-1]]).date().replace(day=1)
            rows.append(
                {
                    "measure_id": mid,
                    "level": "site",
                    "unit_id": site,
                    "unit_name": site_name.get(site, site),
                    "site_id": site,
                    "period_start": when,
                    "kind": "cusum",
                    "direction": direction,
                    "detail": f"risk-adjusted CUSUM ({side}, OR {odds[side]:g}) above "
                    f"h = {CUSUM_H} on {len(hits)} of {len(g)} stays since {since}",
                }
            )
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
