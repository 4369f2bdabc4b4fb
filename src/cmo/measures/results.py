"""Aggregates of the long rows (period x level x unit) and the signals on top of them.

Counting happens in the engine (month x outcome-value histograms, :func:`count_rows`); quarters,
years and exact medians are rolled up from those in numpy, and the few thousand aggregate rows
then get their intervals in Python with ``cmo.stats`` (exact Poisson CI of O/E, Ulm 1990).
For LOS the "observed" are days and the "expected" AMLOS days (CMS Table 5's arithmetic
mean): O/E is the LOS index, and its interval is the normal interval of a sum of days with
their sample variance (days are not Poisson counts: an exact Poisson interval was several
times too narrow).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from cmo.measures.core import source
from cmo.stats.threads import one_blas_thread

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from cmo.measures.spec import Measure
    from cmo.warehouse import Warehouse

PERIOD_TYPES = ("month", "quarter", "year")
LEVEL_COLUMN = {
    "site": "site_id",
    "department": "department_id",
    "unit": "unit_id",
    "practitioner": "practitioner_id",
}
# Rolling windows of the results (the pages' period choice, issue 14): the 12 and 24 months
# ending at the latest complete month (:func:`aggregate` with ``rolling_end``), one period each.
ROLLING_PERIODS = {"rolling12": 12, "rolling24": 24}
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12, **ROLLING_PERIODS}
HIST_VALUES = ("month", "outcome", "n", "num", "expected", "exposure")
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
    "shrunk_ratio",
    "shrunk_low",
    "shrunk_high",
    "small_cell",
    "exposure",
]
# Kept on the frame ``finish`` returns (for the funnels' LOS dispersion), not written.
INTERNAL_COLUMNS = ["_sumsq", "_n_outcome"]

# -- the thresholds of judging, in one place (docs/measures/results.md, docs/statistics.md) ---
SMALL_CELL_CASES = 25  # fewer cases: "too few to judge", never a signal
SMALL_CELL_EXPECTED = 1.0  # fewer expected events (risk-adjusted proportions): the same
Q_LEVEL = 0.05  # Benjamini-Hochberg FDR a practitioner funnel flag must stay below
# Funnel windows: calendar years (every complete one) and, ending at the latest complete
# month, the rolling 12 and 24 months.
FUNNEL_WINDOWS = {"year": 12, "rolling12": 12, "rolling24": 24}
# A rolling window starts at the first month with a complete lookback when that is later
# than its nominal start; it is kept only when it still spans this many months (a rolling 24
# of 12 months would repeat the rolling 12).
ROLLING_MIN_MONTHS = {"rolling12": 12, "rolling24": 13}
# CUSUM limits for one false alarm in this many in-control years of the site's cases: ~5%
# per chart per year (1 - exp(-1/20); cusum_limit).
CUSUM_ARL_YEARS = 20
# A chart of at most this many cases in its 12 months gets h from simulated in-control years
# (cusum_limit); a larger one from the Markov chain's ARL.
CUSUM_SIMULATED_CASES = 20000
CUSUM_SIMULATIONS = 1000
# Simulated cases per chain: the chart's year of cases, within these bounds.
CUSUM_HORIZON = (500, CUSUM_SIMULATED_CASES)
# A diagnosis without a POA indicator counts as a comorbidity only when coded in the 12
# months before admission (core.LOOKBACK_DAYS): when more than this share of secondary
# diagnoses lacks POA, the risk-adjusted measures' first 12 months raise no signal.
MISSING_POA_SHARE = 0.05
COMORBIDITY_LOOKBACK_MONTHS = 12


def unit_exposure(
    rows: ir.Table, exposure: ir.Table | None, located: tuple[str, ...] = ()
) -> ir.Table:
    """``rows`` with ``unit_id`` replaced by every unit its stay passed through (one row per
    stay x unit, from core__stay_unit); stays without exposure rows keep their own unit_id.

    So unit-level counts are not a partition of the site: a stay moved from the ICU to a ward
    counts once at each (SCCM/ANZICS ICU mortality: every ICU admission is in the denominator).
    Only the stays of :func:`_moved_stays` are joined; the others keep their unit_id.
    """
    if exposure is None:
        return rows
    if located:
        # Rows already one per unit (Measure.located: NHSN locations) keep their unit.
        own = rows.filter(rows.measure_id.isin(located))
        other = unit_exposure(rows.filter(~rows.measure_id.isin(located)), exposure)
        return own.union(other.select(*own.columns))
    moved = _moved_stays(exposure)
    ex = moved.select("stay_id", _exposed_unit=moved.unit_id)
    t = rows.left_join(ex, "stay_id")
    return t.mutate(unit_id=ibis.coalesce(t._exposed_unit, t.unit_id)).drop("_exposed_unit")


def _moved_stays(exposure: ir.Table) -> ir.Table:
    """The exposure rows of the stays that touched a unit other than their discharge unit.

    A stay whose one exposure row is its discharge unit (``is_discharge_unit``: the unit of
    core__inpatient_stay, which every long row carries as ``unit_id``) keeps its own unit either
    way, so only the other stays need the join (a smaller build side: at 1M stays the left join
    of the 6M long rows to all 1M exposure rows cost ~0.9 s). Without ``is_discharge_unit``
    every exposure row.
    """
    if "is_discharge_unit" not in exposure.columns:
        return exposure
    moved = exposure.filter(~exposure.is_discharge_unit.fill_null(False)).select("stay_id")
    return exposure.semi_join(moved, "stay_id")


@dataclass
class Counts:
    """What the results step reads from the engine (:func:`count_rows`).

    ``cells``: measure_id, level, unit_id of each histogram cell (row i = cell i).
    ``hist``: cell, month (months since 1970-01), outcome, n (rows), num and expected (their
    sums; null when no value): the not-excluded population rows per cell, month and outcome.
    ``sites``: level, unit_id, site_id, n: population rows (excluded ones too) per site.
    """

    cells: pd.DataFrame
    hist: pd.DataFrame
    sites: pd.DataFrame


def count_rows(
    long: ir.Table, exposure: ir.Table | None = None, located: tuple[str, ...] = ()
) -> Counts:
    """Month x outcome-value histograms of the population rows for every level, in 4 scans.

    :func:`aggregate` rolls quarters and years up from the months (sums are exact) and reads
    the exact median off the outcome histograms: at 1M stays (6M long rows) this replaces 15
    engine group-bys with an exact median each (~7 s). Outcomes take few distinct values (0/1,
    days, LACE points, a few hundred DRG weights), so the histograms stay small (~0.9M rows,
    mostly the practitioners' case-mix weights).
    """
    pop = long.filter(long.in_population)
    kept = pop.filter(~pop.excluded)
    keys = ["measure_id", "period_month", "outcome"]
    # system, site and department from one scan (departments lie within sites: keying by both
    # adds no rows).
    org = _frame(kept.group_by([*keys, "site_id", "department_id"]).aggregate(**_sums(kept)))
    prac = _frame(kept.group_by([*keys, "practitioner_id"]).aggregate(**_sums(kept)))
    unit = _unit_scan(pop, exposure, located)
    unit_kept = unit[unit["excluded"].eq(False)]  # as the engine filter: null = not kept
    scans = {"system": org, "site": org, "department": org, "unit": unit_kept, "practitioner": prac}
    cells, hists, offset = [], [], 0
    for level, frame in scans.items():
        table, cell = _cells(frame, level, LEVEL_COLUMN.get(level))
        hist = {"cell": cell + offset} | {c: frame[c].to_numpy() for c in HIST_VALUES}
        cells.append(table)
        hists.append(hist)
        offset += len(table)
    return Counts(
        cells=pd.concat(cells, ignore_index=True),
        hist=pd.DataFrame({c: np.concatenate([h[c] for h in hists]) for c in hists[0]}),
        sites=_site_counts(unit, pop),
    )


def _unit_scan(
    pop: ir.Table, exposure: ir.Table | None, located: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The unit level's histogram; it keeps the excluded rows and the site, for the unit's
    majority site. When no stay touched a unit other than its discharge unit
    (:func:`_moved_stays`; data with one location per stay) every row keeps its own unit and
    the left join of the 6M long rows (~0.2 s at 1M stays even with nothing to join) is
    skipped."""
    moved = exposure is not None and int(_moved_stays(exposure).count().execute()) > 0
    t = unit_exposure(pop, exposure, located) if moved else pop
    keys = ["measure_id", "period_month", "outcome", "unit_id", "site_id", "excluded"]
    return _frame(t.group_by(keys).aggregate(**_sums(t)))


def _site_counts(unit: pd.DataFrame, pop: ir.Table) -> pd.DataFrame:
    """Population rows per level x unit x site: units from their scan, the other levels from
    one more small scan."""
    sites = _frame(
        pop.group_by(["site_id", "department_id", "practitioner_id"]).aggregate(n=pop.count())
    )
    rows = [
        _level_sites(unit if level == "unit" else sites, level, column)
        for level, column in LEVEL_COLUMN.items()
    ]
    return pd.concat(rows, ignore_index=True)


def _sums(t: ir.Table) -> dict[str, ir.Value]:
    # Rows, not count(stay_id): a long row's stay_id is its key, never null, and not reading
    # the string column saves ~15% of the scans' CPU.
    return {
        "n": t.count(),
        "num": t.outcome.sum(),
        "expected": t.expected.sum(),
        "exposure": t.exposure.sum(),
    }


def _frame(expr: ir.Table) -> pd.DataFrame:
    """The query's rows, ``period_month`` as ``month`` = months since 1970-01 (int64), strings
    as categoricals (encoded by Arrow: Python strings for the ~0.9M histogram rows cost
    ~0.3 s to make and to factorise)."""
    frame = expr.to_pyarrow().to_pandas(strings_to_categorical=True, date_as_object=False)
    if "period_month" in frame.columns:
        months = frame.pop("period_month").to_numpy().astype("datetime64[M]")
        frame["month"] = months.astype(np.int64)
    return frame


def _cells(frame: pd.DataFrame, level: str, column: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The (measure, ``level``, unit) cells of a scan's rows: their table, and each row's
    cell (unit = ``column``, nulls as ``unknown``; ``all`` for the system)."""
    measure, measure_ids = pd.factorize(frame["measure_id"])
    if column is None:
        unit, units = np.zeros(len(frame), np.int64), np.array(["all"], dtype=object)
    else:
        unit, units = _unit_codes(frame[column])
    cell, combos = pd.factorize(unit.astype(np.int64) * len(measure_ids) + measure)
    table = pd.DataFrame(
        {
            "measure_id": np.asarray(measure_ids, dtype=object)[combos % len(measure_ids)],
            "level": level,
            "unit_id": units[combos // len(measure_ids)],
        }
    )
    return table, cell.astype(np.int64)


def _unit_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and unit ids of a key column, null as ``unknown`` (as fill_null("unknown"): one
    group with a unit really called so)."""
    codes, uniques = pd.factorize(values)  # nulls get -1
    units = np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        if not (units == "unknown").any():
            units = np.append(units, "unknown")
        codes = np.where(codes < 0, int(np.flatnonzero(units == "unknown")[0]), codes)
    return codes.astype(np.int64), units


def _level_sites(frame: pd.DataFrame, level: str, column: str) -> pd.DataFrame:
    unit = frame[column].astype(object).fillna("unknown").rename("unit_id")
    site = frame["site_id"].astype(object)
    n = frame["n"].groupby([unit, site], dropna=False, sort=False).sum()
    out = n.reset_index()
    out.insert(0, "level", level)
    return out


def aggregate(
    counts: Counts | ir.Table, exposure: ir.Table | None = None, rolling_end: date | None = None
) -> pd.DataFrame:
    """Denominator, numerator, expected and median outcome per measure x period x level x unit.

    ``counts`` from :func:`count_rows` (or the long rows, counted here). The unit level counts
    each stay at every unit it passed through (``exposure`` = core__stay_unit; see
    :func:`unit_exposure`); the other levels partition the stays. ``median`` is the exact
    median (the mean of the two middle values for an even n, as quantile_cont 0.5). With
    ``rolling_end`` (the data end) the rolling 12 and 24 months ending at the latest complete
    month are periods too (``ROLLING_PERIODS``), when the data cover them."""
    if not isinstance(counts, Counts):
        counts = count_rows(counts, exposure)
    h, cells = counts.hist, counts.cells
    value, values = _value_codes(h["outcome"].to_numpy(float))
    month = h["month"].to_numpy(np.int64)
    first = int(month.min()) // 12 * 12 if len(month) else 0  # a year start: no start < first
    span = int(month.max()) - first + 1 if len(month) else 1
    parts = []
    for period_type in PERIOD_TYPES:
        months = PERIOD_MONTHS[period_type]
        start = month - month % months  # months since 1970-01: quarters start at 0, 3, 6, 9
        parts.append(_period_rows(h, cells, period_type, start, first, span, value, values))
    if rolling_end is not None and len(month):
        # The latest complete month: the month of the day after the data end, minus one.
        after = rolling_end + timedelta(days=1)
        last = (after.year - 1970) * 12 + after.month - 2
        for period_type, length in ROLLING_PERIODS.items():
            begin = last - length + 1
            if begin < int(month.min()):
                continue  # the data do not cover the window
            keep = (month >= begin) & (month <= last)
            start = np.full(int(keep.sum()), begin, np.int64)
            rows = h[keep].reset_index(drop=True)
            parts.append(
                _period_rows(rows, cells, period_type, start, first, span, value[keep], values)
            )
    return pd.concat(parts, ignore_index=True)


def _period_rows(
    h: pd.DataFrame,
    cells: pd.DataFrame,
    period_type: str,
    start: np.ndarray,
    first: int,
    span: int,
    value: np.ndarray,
    values: np.ndarray,
) -> pd.DataFrame:
    """One period type's rows: the histogram rows ``h`` summed per cell and period ``start``
    (months since 1970-01)."""
    # Groups = the (cell, period start) slots that occur, numbered without a sort.
    slot = h["cell"].to_numpy(np.int64) * span + (start - first)
    used = np.bincount(slot, minlength=len(cells) * span) > 0
    group = (np.cumsum(used) - 1)[slot]
    keys = np.flatnonzero(used)
    part = cells.iloc[keys // span].reset_index(drop=True)
    part.insert(1, "period_type", period_type)
    starts = (keys % span + first).astype("datetime64[M]").astype("datetime64[ns]")
    part.insert(2, "period_start", starts)
    sums = _rollup(h, group, len(keys), value, values)
    return pd.concat([part, sums], axis=1)


def _value_codes(outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rank of each outcome among the distinct values (-1 = null), and those values:
    sorting histogram rows by an integer (group, rank) key is ~10x faster than by (group,
    float value)."""
    code, values = pd.factorize(outcome)  # nulls get -1
    order = np.argsort(values)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return np.where(code >= 0, rank[code], -1), values[order]


def _rollup(
    h: pd.DataFrame, group: np.ndarray, groups: int, value: np.ndarray, values: np.ndarray
) -> pd.DataFrame:
    """Sums and exact medians of the histogram rows per ``group`` (0..groups-1); ``value`` =
    the rank of each row's outcome in ``values`` (-1 = null)."""
    n = h["n"].to_numpy(np.int64)
    valid = value >= 0  # a null outcome: its rows count, but not in sums or medians
    n_valid = np.bincount(group, weights=np.where(valid, n, 0), minlength=groups)
    num = np.bincount(
        group, weights=np.where(valid, h["num"].to_numpy(float), 0.0), minlength=groups
    )
    expected = h["expected"].to_numpy(float)
    n_e = np.bincount(group, weights=~np.isnan(expected), minlength=groups)
    e = np.bincount(group, weights=np.nan_to_num(expected), minlength=groups)
    x = h["exposure"].to_numpy(float)
    n_x = np.bincount(group, weights=~np.isnan(x), minlength=groups)
    x_sum = np.bincount(group, weights=np.nan_to_num(x), minlength=groups)
    return pd.DataFrame(
        {
            "denominator": np.bincount(group, weights=n, minlength=groups).astype(np.int64),
            "numerator": np.where(n_valid > 0, num, np.nan),  # SQL: the sum of no values is null
            "expected": np.where(n_e > 0, e, np.nan),
            "exposure": np.where(n_x > 0, x_sum, np.nan),
            "median": _median(group[valid], value[valid], n[valid], values, groups),
            # For the interval of a sum of continuous outcomes (LOS days; finish()).
            "n_outcome": n_valid,
            "sumsq": np.bincount(
                group,
                weights=np.where(valid, n * _squares(value, values), 0.0),
                minlength=groups,
            ),
        }
    )


def _squares(value: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The square of each histogram row's outcome (0 where null: ``value`` -1)."""
    if not len(values):
        return np.zeros(len(value))
    return np.where(value >= 0, values[np.maximum(value, 0)] ** 2, 0.0)


def _median(
    group: np.ndarray, rank: np.ndarray, count: np.ndarray, values: np.ndarray, groups: int
) -> np.ndarray:
    """Exact median per group of a histogram (``count`` rows of ``values[rank]``): the middle
    value, or the mean of the two middle ones (as quantile_cont 0.5: lo + (hi - lo) / 2)."""
    if not len(rank):
        return np.full(groups, np.nan)
    order = np.argsort(group * len(values) + rank)
    group, rank, count = group[order], rank[order], count[order]
    below = np.cumsum(count)  # rows up to and including each histogram row
    total = np.bincount(group, weights=count, minlength=groups).astype(np.int64)
    first = np.cumsum(total) - total  # overall rank of each group's smallest value
    last = len(rank) - 1
    lo = values[rank[np.minimum(np.searchsorted(below, first + (total - 1) // 2, "right"), last)]]
    hi = values[rank[np.minimum(np.searchsorted(below, first + total // 2, "right"), last)]]
    return np.where(total > 0, lo + (hi - lo) * 0.5, np.nan)


def unit_sites(counts: Counts | ir.Table, exposure: ir.Table | None = None) -> pd.DataFrame:
    """(level, unit_id) -> the site where most of that unit's stays are.

    ``counts`` from :func:`count_rows` (or the long rows: then only the unit and site scans)."""
    if isinstance(counts, Counts):
        frame = counts.sites
    else:
        pop = counts.filter(counts.in_population)
        frame = _site_counts(_unit_scan(pop, exposure), pop)
    if frame.empty:
        return pd.DataFrame(columns=["level", "unit_id", "site_id"])
    frame = frame.sort_values(
        ["level", "unit_id", "n", "site_id"], ascending=[True, True, False, True]
    )
    frame = frame.drop_duplicates(["level", "unit_id"])
    return frame[["level", "unit_id", "site_id"]].reset_index(drop=True)


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
    """Rates, O/E with a 95% CI, risk-standardised rates, names, sites.

    The CI of O/E is the exact Poisson interval for counts (Ulm 1990); for measures whose
    outcome is a continuous amount (``kind`` mean: the LOS index) it is the normal interval of a
    sum with the outcomes' sample variance (``cmo.stats.intervals.sum_oe``), since days are not
    Poisson counts (their variance is several times their mean)."""
    from cmo.stats.intervals import poisson_oe, sum_oe

    out = agg.copy()
    out["denominator"] = out["denominator"].astype("int64")
    out["numerator"] = out["numerator"].astype(float)
    out["expected"] = pd.to_numeric(out["expected"], errors="coerce")
    out["exposure"] = (
        pd.to_numeric(out["exposure"], errors="coerce") if "exposure" in out else np.nan
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # A measure with an exposure is a rate per that exposure (device days, patient days,
        # survey responders); the others per row.
        per_row = np.where(out["denominator"] > 0, out["numerator"] / out["denominator"], np.nan)
        x = out["exposure"].to_numpy(float)
        per_exposure = np.where(x > 0, out["numerator"].to_numpy(float) / x, np.nan)
        out["rate"] = np.where(out["exposure"].notna(), per_exposure, per_row)
        has_e = out["expected"].fillna(0) > 0
        e = out["expected"].where(has_e, np.nan).to_numpy(float)
        o = out["numerator"].to_numpy(float)
        out["oe"] = o / e
        lo, hi = poisson_oe(np.where(has_e, o, 0.0), np.where(has_e, e, 1.0))
        mean_kind = [mid for mid, m in measures.items() if m.spec.kind == "mean"]
        amounts = out["measure_id"].isin(mean_kind).to_numpy() & has_e.to_numpy()
        if amounts.any():
            slo, shi = sum_oe(
                np.where(amounts, o, 0.0),
                out["sumsq"].to_numpy(float),
                out["n_outcome"].to_numpy(float),
                np.where(amounts, e, 1.0),
            )
            lo, hi = np.where(amounts, slo, lo), np.where(amounts, shi, hi)
        out["ci_low"] = np.where(has_e, lo, np.nan)
        out["ci_high"] = np.where(has_e, hi, np.nan)
        _nhsn_sir(out, [mid for mid, m in measures.items() if m.spec.kind == "rate"])
    adjusted = [mid for mid, m in measures.items() if m.spec.risk_adjusted]
    is_adjusted = out["measure_id"].isin(adjusted).to_numpy()
    out["_sumsq"] = out["sumsq"].to_numpy(float) if "sumsq" in out else np.nan
    out["_n_outcome"] = out["n_outcome"].to_numpy(float) if "n_outcome" in out else np.nan
    out["small_cell"] = small_cells(out, measures)
    shrunk = shrink(out, measures)
    for col in ("shrunk_ratio", "shrunk_low", "shrunk_high"):
        out[col] = np.where(is_adjusted, shrunk[col].to_numpy(float), np.nan)
    ref = out["measure_id"].map(reference_rates).astype(float)
    # The risk-standardised rate from the shrunk ratio (CMS RSMR: predicted / expected x the
    # reference rate, the predicted from the hierarchical model); the system row has no
    # family to shrink in and keeps its O/E. Proportions are bounded to 0-1.
    ratio = out["shrunk_ratio"].where(out["shrunk_ratio"].notna(), out["oe"])
    out["rsr"] = ratio * ref
    props = [mid for mid, m in measures.items() if m.spec.kind == "proportion"]
    is_prop = out["measure_id"].isin(props)
    out.loc[is_prop, "rsr"] = out.loc[is_prop, "rsr"].clip(0.0, 1.0)
    for mid, m in measures.items():
        if not m.spec.risk_adjusted:
            out.loc[out["measure_id"] == mid, ["oe", "ci_low", "ci_high", "rsr"]] = np.nan
        if m.per != 1.0:  # e.g. infections per 1,000 device days
            out.loc[out["measure_id"] == mid, ["rate", "rsr"]] *= m.per
    out["unit_name"] = [
        names.get(level, {}).get(uid, uid)
        for level, uid in zip(out["level"], out["unit_id"], strict=True)
    ]
    out = out.merge(sites, on=["level", "unit_id"], how="left")
    out.loc[out["level"] == "site", "site_id"] = out.loc[out["level"] == "site", "unit_id"]
    out.loc[out["level"] == "system", "site_id"] = None
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    out = out.sort_values(["measure_id", "period_type", "period_start", "level", "unit_id"])
    return out[RESULT_COLUMNS + INTERNAL_COLUMNS].reset_index(drop=True)


def small_cells(frame: pd.DataFrame, measures: dict[str, Measure]) -> np.ndarray:
    """ "Too few to judge": fewer than SMALL_CELL_CASES cases, or, for a risk-adjusted
    proportion, fewer than SMALL_CELL_EXPECTED expected events (NHSN does not compute an SIR
    below 1 predicted event; CMS Hospital Compare reports hospitals with fewer than 25 cases as
    "number of cases too small"). Such results are shown but never raise a signal."""
    den = pd.to_numeric(frame["denominator"], errors="coerce").fillna(0).to_numpy(float)
    small = den < SMALL_CELL_CASES
    events = [  # counts of events against an expected count (an NHSN SIR is a rate's O/E)
        mid
        for mid, m in measures.items()
        if m.spec.risk_adjusted and m.spec.kind in ("proportion", "rate")
    ]
    exp = pd.to_numeric(frame["expected"], errors="coerce").fillna(0).to_numpy(float)
    small |= frame["measure_id"].isin(events).to_numpy() & (exp < SMALL_CELL_EXPECTED)
    return np.asarray(small, bool)


def dispersion(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Per family (``keys``): the pooled within-unit variance of the outcome over its mean,
    Σ(ΣY² - (ΣY)²/n) / Σ(n - 1) / (ΣY / Σn), from ``_sumsq`` and ``_n_outcome``: the
    quasi-Poisson scale of a sum of days (LOS) for the shrinkage. 1 where unknown."""
    if "_sumsq" not in frame or "_n_outcome" not in frame:
        return pd.Series(1.0, index=frame.index)
    n = pd.to_numeric(frame["_n_outcome"], errors="coerce").fillna(0)
    y = pd.to_numeric(frame["numerator"], errors="coerce").fillna(0)
    ss = pd.to_numeric(frame["_sumsq"], errors="coerce").fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = (ss - np.where(n > 0, y**2 / n.where(n > 0, 1), 0)).clip(lower=0)
    g = pd.DataFrame({"w": within, "df": (n - 1).clip(lower=0), "y": y, "n": n}).groupby(
        [frame[k] for k in keys], sort=False, dropna=False
    )
    sums = g.transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (sums["w"] / sums["df"]) / (sums["y"] / sums["n"])
    return d.where(np.isfinite(d) & (d > 0), 1.0)


def shrink(frame: pd.DataFrame, measures: dict[str, Measure]) -> pd.DataFrame:
    """Empirical-Bayes O/E (``cmo.stats.shrinkage``: gamma-Poisson, Clayton & Kaldor 1987,
    Marshall 1991 moments) within each family measure x period x level (every level but the
    system: one unit has no family). LOS days are put on a quasi-Poisson scale first
    (:func:`dispersion`)."""
    from cmo.stats.shrinkage import eb_ratio_groups

    keys = ["measure_id", "period_type", "period_start", "level"]
    out = pd.DataFrame(
        np.nan, index=frame.index, columns=["shrunk_ratio", "shrunk_low", "shrunk_high"]
    )
    rows = frame[frame["level"] != "system"]
    if rows.empty:
        return out
    rows = rows.assign(_d=1.0)
    means = [mid for mid, m in measures.items() if m.spec.kind == "mean"]
    is_mean = rows["measure_id"].isin(means)
    if is_mean.any():
        rows.loc[is_mean, "_d"] = dispersion(rows[is_mean], keys)
    est = eb_ratio_groups(rows, keys, dispersion="_d")
    out.loc[rows.index, list(est.columns)] = est.to_numpy(float)
    return out


def _nhsn_sir(out: pd.DataFrame, rate_ids: list[str]) -> None:
    """For rates per exposure with a predicted count (NHSN SIRs): O/E is the SIR with its
    mid-P exact interval, and no SIR, interval or rate standardisation when fewer than 1 event
    was predicted (NHSN Guide to the SIR; ``cmo.stats.intervals.sir_midp``)."""
    from cmo.stats.intervals import sir_midp

    rows = out["measure_id"].isin(rate_ids).to_numpy() & out["expected"].notna().to_numpy()
    if not rows.any():
        return
    o = out.loc[rows, "numerator"].fillna(0).round().to_numpy(float)
    sir = sir_midp(o, out.loc[rows, "expected"].to_numpy(float))
    out.loc[rows, "oe"] = sir.sir
    out.loc[rows, "ci_low"] = sir.ci_low
    out.loc[rows, "ci_high"] = sir.ci_high


# -- periods, control charts, funnels and signals: what the pages show -----------------------
# The pages render these tables; they compute nothing (docs/measures/results.md, "Periods,
# charts and funnels"). One definition of a complete period, used by all of them.
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
    "q_value",  # Benjamini-Hochberg q of a funnel signal; None for chart and CUSUM signals
    "window",  # 'year', 'rolling12', 'rolling24' (funnels), 'month' (charts), 'cusum'
]
PERIOD_COLUMNS = ["period_type", "period_start", "period_end", "complete", "latest_complete"]
CHART_COLUMNS = [
    "measure_id",
    "level",
    "unit_id",
    "unit_name",
    "site_id",
    "chart",
    "period_start",
    "numerator",
    "denominator",
    "y",
    "cl",
    "ucl",
    "lcl",
    "sigma_signal",
    "runs_signal",
    "small_cell",
    "lookback_complete",
]
FUNNEL_COLUMNS = [
    "measure_id",
    "level",
    "unit_id",
    "unit_name",
    "site_id",
    "period_start",
    "period_end",  # exclusive
    "window",  # FUNNEL_WINDOWS: 'year' (calendar), 'rolling12', 'rolling24'
    "denominator",
    "numerator",
    "expected",
    "ratio",
    "target",
    "lcl_95",
    "ucl_95",
    "lcl_99_8",
    "ucl_99_8",
    "outlier_95",
    "outlier_99_8",
    "p_value",
    "q_value",
    "shrunk_ratio",
    "shrunk_low",
    "shrunk_high",
    "small_cell",
    "lookback_complete",
    "phi",
    "tau2",
]
FUNNEL_LIMITS = ("lcl_95", "ucl_95", "lcl_99_8", "ucl_99_8")
CHART_LEVELS = ("system", "site")
FUNNEL_LEVELS = ("department", "unit", "practitioner")
MIN_CHART_POINTS = 3  # fewer months give no usable centre line, limits or runs analysis
MIN_FUNNEL_UNITS = 3
CURRENT_SIGNAL_MONTHS = 3  # a signal in the last three complete months is "current"


def _worse(value: float, centre: float, direction: str) -> str:
    higher = value > centre
    return "worse" if higher == (direction == "lower") else "better"


def _period_ends(results: pd.DataFrame) -> pd.Series:
    start = pd.to_datetime(results["period_start"])
    ends = pd.Series(pd.NaT, index=results.index, dtype=start.dtype)
    # One vectorised offset per period type (a Python DateOffset per row took ~1 s on the
    # 75k result rows of 1M stays).
    for period_type, months in PERIOD_MONTHS.items():
        rows = results["period_type"] == period_type
        ends[rows] = start[rows] + pd.DateOffset(months=months)
    return ends


def is_complete(results: pd.DataFrame, data_end: date) -> pd.Series:
    """THE definition of a complete period, for every table the pages read: a month, quarter
    or year is complete when it ended on or before the data end (``cmo measures run --as-of``,
    default the latest encounter end). A partial last period is shown nowhere as "current",
    charted nowhere and signalled nowhere: its few discharges would read as a change."""
    return _period_ends(results) <= pd.Timestamp(data_end) + pd.Timedelta(days=1)


def complete_periods(results: pd.DataFrame, data_end: date) -> pd.DataFrame:
    """Rows whose period is complete (:func:`is_complete`)."""
    return results[is_complete(results, data_end)]


def periods(results: pd.DataFrame, data_end: date) -> pd.DataFrame:
    """quality__period: every period of the results with its end, whether it is complete and
    whether it is the latest complete one of its type (what the pages call "current")."""
    frame = results[["period_type", "period_start"]].drop_duplicates().reset_index(drop=True)
    frame["period_end"] = _period_ends(frame).dt.date
    frame["complete"] = is_complete(frame, data_end).to_numpy(bool)
    latest = frame[frame["complete"]].groupby("period_type")["period_start"].max()
    frame["latest_complete"] = frame["period_start"].eq(frame["period_type"].map(latest))
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    frame = frame.sort_values(["period_type", "period_start"])
    return frame[PERIOD_COLUMNS].reset_index(drop=True)


def chart_kind(spec: Any) -> str:
    """The control chart of a measure's monthly series (Provost & Murray, The Health Care Data
    Guide, 2011, ch. 5-6; Benneyan, Lloyd & Plsek, Qual Saf Health Care 2003;12:458):
    risk-adjusted proportions a U chart of observed over expected events (centre and limits on
    the O/E scale: Poisson variation around 1 when the model is calibrated); unadjusted
    proportions a P chart; means (days, points, weights) an I chart of the monthly value, the
    O/E index when risk-adjusted (days are not Poisson counts, so no U chart for them); rates
    per exposure (NHSN infections per device day) a U chart of the rate (Benneyan 2003)."""
    if spec.kind == "rate":
        return "u"
    if spec.kind == "proportion":
        return "u" if spec.risk_adjusted else "p"
    return "i"


def signalled(m: Measure) -> bool:
    """Whether a measure may raise signals: informational measures (``signals=False``) and
    measures whose spec direction is neither 'lower' nor 'higher' (case mix) never do."""
    return bool(m.signals) and m.spec.direction in ("lower", "higher")


# -- lookback: months whose rows look back before the data start ----------------------------
LOOKBACK_COLUMNS = ["measure_id", "data_start", "lookback_months", "first_month", "reason"]


def data_start(results: pd.DataFrame) -> date | None:
    """The first month with any discharge in the results (the data start)."""
    months = results[results["period_type"] == "month"]["period_start"]
    if months.empty:
        return None
    return pd.Timestamp(pd.to_datetime(months).min()).date()  # builtin min: 0.3 s of Python


def lookback(
    results: pd.DataFrame, measures: dict[str, Measure], missing_poa: float | None = None
) -> pd.DataFrame:
    """quality__lookback: per measure, the first month whose lookback lies wholly in the data
    (data start + the measure's lookback) and why. Months before it raise no signal and are
    left out of the control charts' centre line and limits (still drawn); years and rolling
    windows that contain one raise no funnel signal.

    The lookback is ``Measure.lookback_months`` (the measure's own: hospice enrolment, ED
    visits, Charlson; at least the first month, whose discharges lack the long stays admitted
    before the data start), and for measures with a risk model (its comorbidity terms) 12
    months when more than
    MISSING_POA_SHARE of secondary diagnoses lack a POA indicator (``missing_poa``, from
    quality__data_issue): their comorbidities then come from the 12 months before admission,
    which the first year's stays do not have, so their expected risk is too low."""
    return lookback_from(data_start(results), measures, missing_poa)


def long_data_start(long: ir.Table) -> date | None:
    """:func:`data_start` read off the long rows (the population's first month), before the
    results exist: the build cuts the CUSUM's stays with it ahead of the results step."""
    pop = long.filter(long.in_population)
    first = pop.period_month.min().execute()
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date()


def lookback_from(
    start: date | None, measures: dict[str, Measure], missing_poa: float | None = None
) -> pd.DataFrame:
    """:func:`lookback` for a known data ``start``."""
    poa_gap = missing_poa is not None and missing_poa > MISSING_POA_SHARE
    rows = []
    for mid, m in measures.items():
        months = int(m.lookback_months)
        reason = f"{months} month(s): the measure's own lookback"
        if m.risk_model and poa_gap and months < COMORBIDITY_LOOKBACK_MONTHS:
            months = COMORBIDITY_LOOKBACK_MONTHS
            reason = (
                f"{months} months: {missing_poa:.0%} of secondary diagnoses lack POA, so "
                "comorbidities come from the 12 months before admission"
            )
        first = None if start is None else (pd.Timestamp(start) + pd.DateOffset(months=months))
        rows.append(
            {
                "measure_id": mid,
                "data_start": start,
                "lookback_months": months,
                "first_month": None if first is None else first.date(),
                "reason": f"{reason}; no signal from the months before first_month",
            }
        )
    return pd.DataFrame(rows, columns=LOOKBACK_COLUMNS)


def _first_months(lookbacks: pd.DataFrame | None) -> dict[str, pd.Timestamp]:
    if lookbacks is None or lookbacks.empty:
        return {}
    ok = lookbacks.dropna(subset=["first_month"])
    return {
        str(mid): pd.Timestamp(first)
        for mid, first in zip(ok["measure_id"], ok["first_month"], strict=True)
    }


# The build's P, U and I charts: probability limits (cmo.stats.spc) at the tails of 3 sigma. A
# site's month holds a handful of expected deaths or readmissions, whose Poisson tail is
# heavier than the normal one, and an I chart's sigma comes from ~24 moving ranges: 3-sigma
# limits flagged 0.26% of in-control points in the null simulation (benchmarks/signals.py)
# against the 0.135% they state. qicharts2 and `cmo spc` keep 3 sigma.
LIMITS = "probability"


def chart_points(
    results: pd.DataFrame,
    measures: dict[str, Measure],
    data_end: date,
    lookbacks: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """quality__chart_point: the monthly control chart of every measure for the system and
    each site, over the complete months (cmo.stats.spc, qicharts2 semantics; P, U and I
    charts with probability limits, ``LIMITS``, not qicharts2's 3 sigma). Values are on the
    measure's own scale (a proportion, not a percentage). Months before the measure's
    lookback is complete (``lookbacks``, :func:`lookback`) are drawn but excluded from the
    centre line, limits and runs analysis (qicharts2 ``exclude``); ``lookback_complete`` and
    ``small_cell`` say which points may raise a signal."""
    from cmo.stats.spc import control_chart

    firsts = _first_months(lookbacks)
    located = [mid for mid, m in measures.items() if m.located]
    levels = results["level"].isin(CHART_LEVELS) | (
        (results["level"] == "unit") & results["measure_id"].isin(located)
    )
    monthly = complete_periods(
        results[(results["period_type"] == "month") & levels],
        data_end,
    )
    frames = []
    for (mid, level, uid), g in monthly.groupby(["measure_id", "level", "unit_id"], sort=True):
        m = measures.get(str(mid))
        if m is None:
            continue
        kind = chart_kind(m.spec)
        g = g[g["denominator"] > 0]
        # The rate's own denominator: its exposure (device days, responders) when it has one.
        n = g["exposure"] if "exposure" in g.columns and g["exposure"].notna().any() else None
        per_exposure = m.spec.kind == "rate" and n is not None
        if per_exposure:
            g = g[g["exposure"].fillna(0) > 0]
        elif kind == "u":
            g = g[g["expected"].fillna(0) > 0]
        elif kind == "p" and n is not None:
            g = g[g["exposure"].fillna(0) > 0]
        value = g["oe"] if m.spec.risk_adjusted and kind == "i" else g["rate"]
        g = g[value.notna()] if kind == "i" else g
        g = g.sort_values("period_start")
        if len(g) < MIN_CHART_POINTS:
            continue
        first = firsts.get(str(mid))
        ok = (
            np.ones(len(g), bool)
            if first is None
            else (pd.to_datetime(g["period_start"]) >= first).to_numpy()
        )
        if ok.sum() < MIN_CHART_POINTS:
            ok = np.ones(len(g), bool)  # too short a series to leave anything out
            lookback_ok = np.zeros(len(g), bool) if first is not None else ok
        else:
            lookback_ok = ok
        exclude = [int(i) + 1 for i in np.flatnonzero(~ok)] or None
        if per_exposure:
            chart = control_chart(
                g["numerator"], g["exposure"], chart="u", exclude=exclude, limits=LIMITS
            )
            for col in ("y", "cl", "ucl", "lcl"):  # shown per ``per`` device days
                chart[col] = chart[col] * m.per
            if float(np.median(chart["y"].to_numpy(float))) == 0.0:
                # Rare events (most months 0): the Anhoej runs rules need a centre line inside
                # the data, so a median of 0 gives no runs signal, only points beyond the limits.
                chart["runs_signal"] = False
        elif kind == "u":
            chart = control_chart(
                g["numerator"], g["expected"], chart="u", exclude=exclude, limits=LIMITS
            )
        elif kind == "p":
            size = g["exposure"] if n is not None else g["denominator"]
            chart = control_chart(g["numerator"], size, chart="p", exclude=exclude, limits=LIMITS)
        else:
            y = value.loc[g.index].to_numpy(float)
            chart = control_chart(y, chart="i", exclude=exclude, limits=LIMITS)
        small = (
            g["small_cell"].fillna(False).to_numpy(bool)
            if "small_cell" in g
            else np.zeros(len(g), bool)
        )
        frames.append(
            pd.DataFrame(
                {
                    "measure_id": str(mid),
                    "level": str(level),
                    "unit_id": str(uid),
                    "unit_name": g["unit_name"].to_numpy(object),
                    "site_id": g["site_id"].to_numpy(object),
                    "chart": kind,
                    "period_start": pd.to_datetime(g["period_start"]).dt.date.to_numpy(),
                    "numerator": g["numerator"].to_numpy(float),
                    "denominator": (
                        g["exposure"].round() if n is not None else g["denominator"]
                    ).to_numpy(np.int64),
                    "y": chart["y"].to_numpy(float),
                    "cl": chart["cl"].to_numpy(float),
                    "ucl": chart["ucl"].to_numpy(float),
                    "lcl": chart["lcl"].to_numpy(float),
                    "sigma_signal": chart["sigma_signal"].to_numpy(bool),
                    "runs_signal": chart["runs_signal"].to_numpy(bool),
                    "small_cell": small,
                    "lookback_complete": lookback_ok,
                    "_longest_run": chart["longest_run"].to_numpy(float),
                    "_longest_run_max": chart["longest_run_max"].to_numpy(float),
                    "_n_crossings": chart["n_crossings"].to_numpy(float),
                    "_n_crossings_min": chart["n_crossings_min"].to_numpy(float),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=CHART_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _windows(
    results: pd.DataFrame, data_end: date, firsts: dict[str, pd.Timestamp]
) -> pd.DataFrame:
    """The funnel families' rows: every complete calendar year, and the rolling 12 and 24
    complete months ending at the latest complete month (sums of the monthly rows; a rolling
    window starts no earlier than the measure's first month with a complete lookback, so it
    can always signal), with ``window``, ``period_start``, ``period_end`` (exclusive) and
    ``lookback_complete`` (False for a calendar year that starts before the lookback is
    complete: shown, never signalled)."""
    frames = []
    rows = results[results["level"].isin(FUNNEL_LEVELS)]
    yearly = complete_periods(rows[rows["period_type"] == "year"], data_end).copy()
    if not yearly.empty:
        start = pd.to_datetime(yearly["period_start"])
        yearly["period_start"] = start.to_numpy()
        yearly["window"] = "year"
        yearly["period_end"] = (start + pd.DateOffset(years=1)).dt.date.to_numpy()
        first = pd.to_datetime(yearly["measure_id"].map(firsts))
        yearly["lookback_complete"] = (first.isna() | (start >= first)).to_numpy(bool)
        frames.append(yearly)
    monthly = complete_periods(rows[rows["period_type"] == "month"], data_end)
    if not monthly.empty:
        for window in FUNNEL_WINDOWS:
            if window != "year":
                frames.extend(_rolling(monthly, window, firsts))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _rolling(
    monthly: pd.DataFrame, window: str, firsts: dict[str, pd.Timestamp]
) -> list[pd.DataFrame]:
    """The rolling ``window``'s sums of the monthly rows per measure x level x unit, ending at
    the latest complete month: one group-by over every measure (rows sorted by measure, as
    the results are), each measure's start where its lookback is complete; a measure whose
    data do not cover its window is left out."""
    month = pd.to_datetime(monthly["period_start"])
    last = month.max()
    nominal = last - pd.DateOffset(months=FUNNEL_WINDOWS[window] - 1)
    begins = {}
    for mid, first_data in month.groupby(monthly["measure_id"], sort=True).min().items():
        begin = nominal
        first_m = firsts.get(str(mid))
        if first_m is not None and first_m > begin:
            begin = first_m  # the window starts where the lookback is complete
        span = (last.year - begin.year) * 12 + last.month - begin.month + 1
        if first_data <= begin and span >= ROLLING_MIN_MONTHS[window]:
            begins[mid] = begin
    if not begins:
        return []
    begin_of = pd.to_datetime(monthly["measure_id"].map(begins))
    part = monthly[(begin_of.notna() & (month >= begin_of)).to_numpy()]
    sums = ["denominator", "numerator", "expected", *INTERNAL_COLUMNS]
    sums = [c for c in sums if c in part.columns]
    keys = ["measure_id", "level", "unit_id"]
    agg = part.groupby(keys, sort=False, dropna=False)[sums].sum(min_count=1)
    latest = part.sort_values("period_start").groupby(keys, sort=False).last()
    agg = agg.join(latest[["unit_name", "site_id"]]).reset_index()
    agg["window"] = window
    agg["period_type"] = window
    agg["period_start"] = pd.to_datetime(agg["measure_id"].map(begins))
    agg["period_end"] = (last + pd.DateOffset(months=1)).date()
    agg["lookback_complete"] = True
    return [agg]


def funnel_points(
    results: pd.DataFrame,
    measures: dict[str, Measure],
    data_end: date,
    lookbacks: pd.DataFrame | None = None,
    peers: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """quality__funnel_point: departments, units and practitioners of each complete year
    (``window`` 'year') and of the rolling 12 and 24 complete months ending at the latest
    complete month ('rolling12', 'rolling24'), for risk-adjusted measures only (comparing crude
    rates of practitioners with different case mix is not fair), against 95% and 99.8%
    limits (cmo.stats.funnel; Spiegelhalter, Stat Med 2005;24:1185).

    Every funnel is tested for overdispersion and adjusted for it (SHMI method: log O/E
    z-scores, 10% at each end truncated, φ, DerSimonian-Laird τ² when kφ > k - 1; NHS Digital
    SHMI methodology, Spiegelhalter 2005 §3-4), estimated from the units that are not small
    cells. Each unit has its two-sided ``p_value``, the Benjamini-Hochberg ``q_value`` among
    the not-small units of its family (measure x level x window x period), its empirical-Bayes
    ``shrunk_ratio`` with 95% interval (``cmo.stats.shrinkage``) and ``small_cell``
    (:func:`small_cells`: shown with its limits, never an outlier, never signalled). Units with
    no expected are left out. LOS (sums of days) is tested on the quasi-Poisson scale: O and E
    divided by the days' within-unit variance/mean (McCullagh & Nelder, Generalized Linear
    Models, 1989, §6.2), then the same funnel; the exact Poisson limits of raw days were several
    times too narrow.

    ``peers`` (measure id -> unit id -> peer group) splits a measure's unit-level family: the
    units of a group are compared only with each other (their own overdispersion and
    q-values). The build puts IMORT's ICUs in a group of their own: they are scored by the ICU
    model, so an ICU is compared with ICUs, not with wards (``cmo.measures.icu``; issue 13)."""
    from cmo.stats.funnel import funnel
    from cmo.stats.multiplicity import bh_qvalues
    from cmo.stats.shrinkage import eb_ratio

    firsts = _first_months(lookbacks)
    adjusted = [mid for mid, m in measures.items() if m.spec.risk_adjusted]
    rows = results[results["measure_id"].isin(adjusted)]
    rows = rows[pd.to_numeric(rows["expected"], errors="coerce").fillna(0) > 0]
    rows = rows[rows["denominator"] > 0]
    windows = _windows(rows, data_end, firsts)
    if windows.empty:
        return pd.DataFrame(columns=FUNNEL_COLUMNS)
    windows["_peer"] = _peer_groups(windows, peers)
    keys = ["measure_id", "level", "window", "period_start", "_peer"]
    frames = []
    for (mid, level, window, start, _), g in windows.groupby(keys, sort=True):
        m = measures[str(mid)]
        if len(g) < MIN_FUNNEL_UNITS:
            continue
        if m.located and level != "unit":
            continue  # NHSN infections are compared between locations, not practitioners
        small = small_cells(g, measures)
        num = g["numerator"].to_numpy(float)
        exp = g["expected"].to_numpy(float)
        # Days are not Poisson counts: on the quasi-Poisson scale (days / d, d = the family's
        # within-unit variance / mean of a stay's days) the Poisson limits and tests hold for
        # sums of days; the ratio O/E is unchanged. Counts of events: d = 1.
        d = 1.0
        if m.spec.kind == "mean":
            d = float(dispersion(g, ["measure_id"]).iloc[0])
        f = funnel(num / d, expected=exp / d, labels=np.arange(len(g)), od="shmi", od_use=~small)
        p = f["p_value"].to_numpy(float)
        eb = eb_ratio(num, exp, dispersion=d)
        frames.append(
            pd.DataFrame(
                {
                    "measure_id": str(mid),
                    "level": str(level),
                    "unit_id": g["unit_id"].to_numpy(object),
                    "unit_name": g["unit_name"].to_numpy(object),
                    "site_id": g["site_id"].to_numpy(object),
                    "period_start": pd.Timestamp(str(start)).date(),
                    "period_end": g["period_end"].to_numpy(object),
                    "window": str(window),
                    "denominator": g["denominator"].to_numpy(np.int64),
                    "numerator": num,
                    "expected": exp,
                    "ratio": f["ratio_or_rate"].to_numpy(float),
                    "target": f["target"].to_numpy(float),
                    **{c: f[c].to_numpy(float) for c in FUNNEL_LIMITS},
                    # A small cell is too few to judge: drawn with its limits, never an outlier.
                    "outlier_95": f["outlier_95"].to_numpy(bool) & ~small,
                    "outlier_99_8": f["outlier_99_8"].to_numpy(bool) & ~small,
                    "p_value": p,
                    "q_value": bh_qvalues(np.where(small, np.nan, p)),
                    "shrunk_ratio": eb["shrunk_ratio"].to_numpy(float),
                    "shrunk_low": eb["shrunk_low"].to_numpy(float),
                    "shrunk_high": eb["shrunk_high"].to_numpy(float),
                    "small_cell": small,
                    "lookback_complete": g["lookback_complete"].to_numpy(bool),
                    "phi": float(f.attrs["phi"]),
                    "tau2": float(f.attrs["tau2"]),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=FUNNEL_COLUMNS)
    return pd.concat(frames, ignore_index=True)[FUNNEL_COLUMNS]


def _peer_groups(
    windows: pd.DataFrame, peers: Mapping[str, Mapping[str, str]] | None
) -> np.ndarray:
    """Each funnel row's peer group within its measure's unit level ('' = every unit)."""
    group = np.full(len(windows), "", dtype=object)
    for mid, by_unit in (peers or {}).items():
        rows = ((windows["measure_id"] == mid) & (windows["level"] == "unit")).to_numpy()
        group[rows] = windows.loc[rows, "unit_id"].map(by_unit).fillna("").to_numpy(object)
    return group


def signals(
    results: pd.DataFrame,
    measures: dict[str, Measure],
    data_end: date,
    charts: pd.DataFrame | None = None,
    funnels: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Control-chart signals (a point beyond 3 sigma; the Anhøj runs rules on the series,
    dated at its last month) of the system and sites, and funnel outliers of departments,
    units and practitioners: read off the same chart and funnel rows the pages show (computed
    here unless given). Never from a small cell, a month or window whose lookback is
    incomplete, or a measure that is informational or has no better direction
    (:func:`signalled`). A practitioner flag needs the 99.8% limit AND a Benjamini-Hochberg
    q below ``Q_LEVEL``; departments and units the 95% limit (``funnel_95``, or
    ``funnel_99_8`` beyond that)."""
    if charts is None:
        charts = chart_points(results, measures, data_end)
    if funnels is None:
        funnels = funnel_points(results, measures, data_end)
    keep = [mid for mid, m in measures.items() if signalled(m)]
    rows: list[dict[str, Any]] = []
    charted = charts[charts["measure_id"].isin(keep)]
    for (mid, _level, _uid), g in charted.groupby(["measure_id", "level", "unit_id"], sort=True):
        rows.extend(_chart_signals(g, measures[str(mid)].spec.direction))
    rows.extend(_funnel_signals(funnels[funnels["measure_id"].isin(keep)], measures))
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def _eligible(g: pd.DataFrame) -> np.ndarray:
    """Rows that may raise a signal: not a small cell, lookback complete (True when the
    columns are absent, as in tables built before they existed)."""
    ok = np.ones(len(g), bool)
    if "small_cell" in g:
        ok &= ~g["small_cell"].fillna(False).to_numpy(bool)
    if "lookback_complete" in g:
        ok &= g["lookback_complete"].fillna(True).to_numpy(bool)
    return ok


def _chart_signals(g: pd.DataFrame, direction: str) -> list[dict[str, Any]]:
    g = g.sort_values("period_start")
    base = {c: g[c].iloc[0] for c in ("measure_id", "level", "unit_id", "unit_name", "site_id")}
    base |= {"q_value": None, "window": "month"}
    rows = []
    eligible = _eligible(g)
    for r in g[g["sigma_signal"].astype(bool).to_numpy() & eligible].to_dict("records"):
        rows.append(
            base
            | {
                "period_start": r["period_start"],
                "kind": "sigma",
                "direction": _worse(float(r["y"]), float(r["cl"]), direction),
                "detail": f"{r['y']:.4g} outside limits {r['lcl']:.4g}-{r['ucl']:.4g}",
            }
        )
    last = g.iloc[-1]
    if bool(last["runs_signal"]) and bool(eligible[-1]):
        detail = "non-random variation (Anhøj runs rules)"
        if "_longest_run" in g.columns:
            detail = (
                f"non-random variation: longest run {int(last['_longest_run'])} "
                f"(max {int(last['_longest_run_max'])}), crossings "
                f"{int(last['_n_crossings'])} (min {int(last['_n_crossings_min'])})"
            )
        rows.append(
            base
            | {
                "period_start": last["period_start"],
                "kind": "runs",
                "direction": _worse(float(last["y"]), float(last["cl"]), direction),
                "detail": detail,
            }
        )
    return rows


WINDOW_TEXT = {
    "year": "calendar year",
    "rolling12": "rolling 12 months",
    "rolling24": "rolling 24 months",
}


def funnel_flags(funnels: pd.DataFrame) -> np.ndarray:
    """The funnel rows that raise a signal (:func:`signals`' rule)."""
    if funnels.empty:
        return np.zeros(0, bool)
    ok = _eligible(funnels)
    prac = funnels["level"].eq("practitioner").to_numpy()
    out99 = funnels["outlier_99_8"].fillna(False).to_numpy(bool)
    out95 = funnels["outlier_95"].fillna(False).to_numpy(bool)
    if "q_value" in funnels:
        q = pd.to_numeric(funnels["q_value"], errors="coerce").to_numpy(float)
        q_ok = np.nan_to_num(q, nan=1.0) < Q_LEVEL
    else:
        q_ok = np.ones(len(funnels), bool)
    return ok & np.where(prac, out99 & q_ok, out95)


def _funnel_signals(funnels: pd.DataFrame, measures: dict[str, Measure]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    flagged = funnels[funnel_flags(funnels)]
    if "window" in flagged and "period_end" in flagged:
        # A rolling 12 months that is a calendar year (data ending in December) is the same
        # test: one signal, the calendar year's.
        rank = flagged["window"].map({"year": 0}).fillna(1)
        keys = ["measure_id", "level", "unit_id", "period_start", "period_end"]
        flagged = flagged.assign(_r=rank).sort_values("_r").drop_duplicates(keys)
    # Records, not iterrows: a Series per row cost ~0.25 s over the ~5k unit rows at 1M.
    for r in flagged.to_dict("records"):
        window = str(r.get("window") or "year")
        q = r.get("q_value")
        q = None if q is None or pd.isna(q) else float(q)
        detail = f"O/E {float(r['ratio']):.3g} (O {r['numerator']:.0f}, E {r['expected']:.1f})"
        if q is not None:
            detail += f", q {q:.3g}"
        if window != "year":
            detail += f", {WINDOW_TEXT.get(window, window)}"
        rows.append(
            {
                "measure_id": r["measure_id"],
                "level": r["level"],
                "unit_id": r["unit_id"],
                "unit_name": r["unit_name"],
                "site_id": r["site_id"],
                "period_start": r["period_start"],
                "kind": "funnel_99_8" if r["outlier_99_8"] else "funnel_95",
                "direction": _worse(
                    float(r["ratio"]), 1.0, measures[str(r["measure_id"])].spec.direction
                ),
                "detail": detail,
                "q_value": q,
                "window": window,
            }
        )
    return rows


def mark_current(signals: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """``signals`` with ``current``: the signal's period reaches into the last
    CURRENT_SIGNAL_MONTHS complete months (a funnel signal is about its window: a calendar
    year, or 12 or 24 rolling months, current while it overlaps them, like a monthly signal of
    one of them)."""
    out = signals.copy()
    latest = periods[(periods["period_type"] == "month") & periods["latest_complete"]]
    if latest.empty or out.empty:
        out["current"] = False
        return out
    last = pd.Timestamp(latest["period_start"].iloc[0])
    cut = last.year * 12 + last.month - CURRENT_SIGNAL_MONTHS
    start = pd.to_datetime(out["period_start"])
    funnel = out["kind"].astype(str).str.startswith("funnel").to_numpy()
    window = out["window"] if "window" in out else pd.Series("year", index=out.index)
    length = window.map(FUNNEL_WINDOWS).fillna(12).to_numpy(int)
    months = np.where(funnel, length, 1)
    out["current"] = (start.dt.year * 12 + start.dt.month + months - 1).to_numpy() > cut
    return out


CUSUM_MONTHS = 12


def cusum_limit(
    risk: np.ndarray,
    odds_ratio: float,
    *,
    seed: int = 0,
    shared: dict[tuple[Any, ...], list[tuple[Any, float]]] | None = None,
) -> tuple[float, float]:
    """(h, ARL0) of one CUSUM chart of n cases in its 12 months, for one false alarm in
    CUSUM_ARL_YEARS in-control years: P(an alarm within the year's n cases | in control,
    S_0 = 0) = 1 - e^(-1/20), 4.9% (ARL0 = 20 n, the ARL of a geometric run length with that
    rate, is reported beside h).

    - n <= CUSUM_SIMULATED_CASES: h is read off 1,000 simulated in-control years of the
      chart's case mix (``cmo.stats.cusum.run_lengths``, seeded so a build is reproducible):
      the empirical 95.1% quantile of their highest value (``RunLengths.limit_within``).
      A chart that starts at 0 needs time to climb, and a year of a few hundred cases is
      short beside that: its h is lower than the h of ARL0 = 20 n, which would give such a
      site far fewer than 4.9% false alarms a year (docs/statistics.md).
    - larger: h whose in-control ARL from S_0 = 0 is 20 n, from the Markov chain of
      ``cmo.stats.cusum.markov_limit_for_arl`` (Steiner et al. 2000 §3; deterministic). At
      tens of thousands of cases a year the climb from 0 is short beside the year and the
      run length near geometric: the ARL gives 5.0-5.3% a year (docs/performance.md,
      "measures", ninth session), where simulating 1,000 such years would take ~10^8 draws.

    ``shared`` (one dict per measure and build) reuses a simulation for the charts of a
    measure whose case mixes have about the same in-control drift E0[W] (within a factor
    CUSUM_DRIFT_BAND) and size: a chart is simulated only when no earlier chart is that
    close; otherwise it reads its h off the earlier chart's simulated years for its own n
    scaled by the ratio of the two drifts (the in-control run length of a CUSUM of
    log-likelihood ratios is about (e^(h+rho) - h - rho - 1) / |E0[W]|, Siegmund,
    Sequential Analysis, 1985, §X.2: at a given h inversely proportional to the drift)."""
    from cmo.stats.cusum import markov_limit_for_arl, run_lengths

    cases = max(len(risk), 1)
    arl0 = float(CUSUM_ARL_YEARS * cases)
    if cases > CUSUM_SIMULATED_CASES:
        return markov_limit_for_arl(risk, odds_ratio, arl0), arl0
    rate = 1.0 - float(np.exp(-1.0 / CUSUM_ARL_YEARS))
    horizon = _cusum_horizon(cases)
    drift = _cusum_drift(risk, odds_ratio)
    near = shared.setdefault((odds_ratio, seed, horizon), []) if shared is not None else []
    for curve, drift0 in near:
        scaled = cases * drift / drift0
        if max(drift / drift0, drift0 / drift) <= CUSUM_DRIFT_BAND and scaled <= horizon:
            return curve.limit_within(scaled, rate), arl0
    curve = run_lengths(risk, odds_ratio, seed=seed, n_sim=CUSUM_SIMULATIONS, horizon=horizon)
    near.append((curve, drift))
    return curve.limit_within(cases, rate), arl0


# Charts whose in-control drift is within this factor share one simulation (cusum_limit).
CUSUM_DRIFT_BAND = 1.1


def _cusum_horizon(cases: int) -> int:
    """Simulated cases per chain: the chart's cases within CUSUM_HORIZON, rounded up to a step
    of a factor sqrt(2) (so charts of about the same size share a simulation)."""
    want = min(max(cases, CUSUM_HORIZON[0]), CUSUM_HORIZON[1])
    step = np.ceil(2 * np.log2(want / CUSUM_HORIZON[0]) - 1e-9) / 2
    return int(min(np.ceil(CUSUM_HORIZON[0] * 2**step), CUSUM_HORIZON[1]))


def _cusum_drift(risk: np.ndarray, odds_ratio: float) -> float:
    """The in-control mean weight E0[W] = mean of p ln(R_A) - ln(1 - p + R_A p) (< 0)."""
    p = np.asarray(risk, float)
    if not p.size:
        return -1.0
    return float(np.mean(p * np.log(odds_ratio) - np.log(1 - p + odds_ratio * p)))


CUSUM_ODDS = {"upper": 2.0, "lower": 0.5}  # Steiner 2000: a doubling / halving of the odds
CUSUM_COLUMNS = [
    "measure_id",
    "level",
    "unit_id",
    "unit_name",
    "site_id",
    "side",  # 'upper' (deterioration, OR 2) or 'lower' (improvement, OR 1/2)
    "day",  # discharge day: one point per day with stays
    "period_start",  # its month
    "cases",  # stays charted up to and including the day (the chart's x)
    "s",  # the CUSUM after the day's last stay
    "s_max",  # its highest value during the day (an alarm's crossing)
    "h",  # the control limit
    "arl0",  # one false alarm in this many in-control stays (20 years' worth: cusum_limit)
    "odds_ratio",
    "alarm",  # the CUSUM crossed h during the day
    "reset",  # it restarted at 0 after an alarm during the day
    "since",  # the first day of the chart's 12 months
]


def _reset_path(w: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The CUSUM S_t = max(0, S_{t-1} + W_t) restarted at 0 after each crossing of h (Steiner
    et al. 2000: a chart is reset after a signal, so each alarm is a new run of ARL0 cases),
    and the alarm flags. Each run in closed form (Lindley: C_t - min(0, min C_j)); the loop
    runs once per alarm."""
    s = np.zeros(len(w))
    alarm = np.zeros(len(w), bool)
    i = 0
    while i < len(w):
        c = np.cumsum(w[i:])
        run = c - np.minimum(np.minimum.accumulate(c), 0.0)
        over = np.flatnonzero(run > h)
        stop = int(over[0]) + 1 if over.size else len(run)
        s[i : i + stop] = run[:stop]
        if over.size:
            alarm[i + stop - 1] = True
        i += stop
    return s, alarm


def _cusum_query(
    long: ir.Table, measures: dict[str, Measure]
) -> tuple[ir.Table | None, date | None]:
    """The CUSUM's stays as a query (risk-adjusted, signalled measures, the last 12 months, in
    discharge order) and the first day charted; (None, None) when there are none."""
    ids = [mid for mid, m in measures.items() if m.risk_model and signalled(m)]
    if not ids:
        return None, None
    charted = long.filter(
        long.measure_id.isin(ids) & long.in_population & ~long.excluded & long.expected.notnull()
    )
    # The last 12 months of the charted stays themselves: another measure's rows (the safety
    # app's events, dated up to today) may run past the EHR data and would empty the window.
    last = charted.discharge_date.max().execute()
    if last is None or pd.isna(last):
        return None, None
    since = pd.Timestamp(last).date() - timedelta(days=365 * CUSUM_MONTHS // 12)
    t = charted.filter(charted.discharge_date > since)
    # Ordered in the engine by (discharge_date, stay_id) only; the groups below keep that
    # order within each measure x site. With the measure and site as leading string sort keys
    # DuckDB took ~1.5 s for the ~1.3M rows of 1M stays, without them ~0.5 s (and a sort by
    # the string ids in pandas is slower still).
    query = t.order_by(["discharge_date", "stay_id"]).select(
        "measure_id", "site_id", "discharge_date", "outcome", "expected"
    )
    return query, since + timedelta(days=1)


def _cusum_rows(rows: pa.Table, lookbacks: pd.DataFrame | None) -> pd.DataFrame:
    """The query's rows without the months whose lookback is incomplete. Strings come as
    categoricals (encoded by Arrow; grouping Python strings cost ~0.3 s)."""
    frame = rows.to_pandas(strings_to_categorical=True, date_as_object=False)
    firsts = _first_months(lookbacks)
    if firsts and len(frame):
        # Each measure's first month as an array over its categories, taken by the rows'
        # codes (a string per row and a map over 1M rows cost ~0.2 s).
        measure = frame["measure_id"].cat
        first = np.array(
            [firsts.get(str(m), pd.NaT) for m in measure.categories], dtype="datetime64[ns]"
        )[measure.codes.to_numpy()]
        day = frame["discharge_date"].to_numpy().astype("datetime64[ns]")
        keep = np.isnat(first) | (day >= first)
        if not keep.all():
            frame = frame[keep].reset_index(drop=True)
    return frame


@dataclass
class CusumInput:
    """What :func:`cusum_series` reads, prepared ahead (:func:`prepare_cusum`): the first day
    charted, the lookbacks the stays were cut with, and (the stays, every chart's (h, ARL0)),
    possibly still being fetched and simulated on other threads (:class:`_PendingCusum`)."""

    since: date | None
    lookbacks: pd.DataFrame | None
    work: Any  # (frame, {(measure, site, side): (h, arl0)}) or a _PendingCusum of it
    # The unnamed series (:func:`_cusum_paths`) being computed on the worker, or None.
    paths: Any = None

    def resolved(self) -> tuple[pd.DataFrame, dict[tuple[str, str, str], tuple[float, float]]]:
        return self.work.result() if hasattr(self.work, "result") else self.work

    def series(self) -> pd.DataFrame:
        """The CUSUM series without site names (:func:`_cusum_paths`)."""
        if self.paths is not None:
            return self.paths.result()  # type: ignore[no-any-return]
        frame, limits = self.resolved()
        return _cusum_paths(frame, limits, self.since)


def prepare_cusum(
    long: ir.Table,
    measures: dict[str, Measure],
    lookbacks: pd.DataFrame | None = None,
    submit: Callable[..., Any] | None = None,
    fetcher: Callable[[ir.Table], Callable[[], pa.Table]] | None = None,
) -> CusumInput:
    """The CUSUM's stays and their limits, computed through ``submit`` (e.g. a thread pool's:
    the build fetches them and computes the limits, numpy that releases the GIL, while the
    engine computes the results) or here. ``fetcher`` (``Warehouse.fetcher``) gives a
    function that reads the rows on that thread."""
    query, since = _cusum_query(long, measures)
    if query is None:
        return CusumInput(None, lookbacks, (pd.DataFrame(), {}))
    fetch = fetcher(query) if fetcher is not None else query.to_pyarrow
    if submit is None:
        frame = _cusum_rows(fetch(), lookbacks)
        return CusumInput(since, lookbacks, (frame, cusum_limits(frame)))
    # The fetch first, then one task per side (the sides never share a simulation: the same
    # h as one task): the build's one worker runs them in turn (queued after the fetch they
    # wait on); a pool of two would compute the sides side by side.
    rows = submit(lambda: _cusum_rows(fetch(), lookbacks))
    sides = [submit(lambda side=side: cusum_limits(rows.result(), (side,))) for side in CUSUM_ODDS]
    work = _PendingCusum(rows, sides)
    # The charts' paths too (numpy, ~0.2 s at 1M stays), off the main thread's signals step.
    paths = submit(lambda: _cusum_paths(*work.result(), since))
    return CusumInput(since, lookbacks, work, paths)


@dataclass
class _PendingCusum:
    """The futures of :func:`prepare_cusum`: the stays, and each side's limits."""

    rows: Any
    sides: list[Any]

    def result(self) -> tuple[pd.DataFrame, dict[tuple[str, str, str], tuple[float, float]]]:
        limits: dict[tuple[str, str, str], tuple[float, float]] = {}
        for side in self.sides:
            limits.update(side.result())
        return self.rows.result(), limits


def _same_lookbacks(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    """Whether two quality__lookback frames cut the same months (each measure's first month)."""
    if a is None or b is None:
        return a is None and b is None
    return _first_months(a) == _first_months(b)


def _cusum_groups(frame: pd.DataFrame) -> list[tuple[tuple[Any, Any], np.ndarray]]:
    """Each measure x site's row positions, ascending (so in discharge order), sorted."""
    groups: dict[Any, Any] = frame.groupby(["measure_id", "site_id"], observed=True).indices
    return sorted(groups.items())


def _cusum_risk(frame: pd.DataFrame) -> np.ndarray:
    return frame["expected"].clip(1e-6, 1 - 1e-6).to_numpy(float)


def cusum_limits(
    frame: pd.DataFrame, sides: Collection[str] = tuple(CUSUM_ODDS)
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(h, ARL0) of every chart of :func:`_cusum_rows`' stays on ``sides``, by (measure, site,
    side): :func:`cusum_limit`, one simulation shared by the sites of a measure whose drifts
    are close (in the same order and with the same seeds whatever thread runs it, and
    whichever sides are asked for: a side's seed is its place in CUSUM_ODDS)."""
    if frame.empty:
        return {}
    risk = _cusum_risk(frame)
    shared: dict[str, dict[tuple[Any, ...], list[tuple[Any, float]]]] = {}
    out = {}
    # One BLAS thread: the Markov chains' LU factorisations run beside the engine's threads,
    # and OpenBLAS' second thread spun against them (at 1M stays 1.7 s of wall time per side
    # in the build instead of 1.1; 0.4 alone).
    with one_blas_thread():
        for (mid, site), at in _cusum_groups(frame):
            limits_of = shared.setdefault(str(mid), {})  # one simulation per measure x band
            for seed, (side, odds) in enumerate(CUSUM_ODDS.items()):
                if side in sides:
                    out[(str(mid), str(site), side)] = cusum_limit(
                        risk[at], odds, seed=seed, shared=limits_of
                    )
    return out


def cusum_series(
    long: ir.Table,
    results: pd.DataFrame,
    measures: dict[str, Measure],
    lookbacks: pd.DataFrame | None = None,
    prepared: CusumInput | None = None,
) -> pd.DataFrame:
    """quality__cusum: the risk-adjusted Bernoulli CUSUM (Steiner et al., Biostatistics
    2000;1:441; OR 2 up, 1/2 down) of each site's stays of the last 12 months, in discharge
    order, for the risk-adjusted proportions, with h for one false alarm in CUSUM_ARL_YEARS
    in-control years of the site's cases (:func:`cusum_limit`), restarted at 0 after each alarm
    (:func:`_reset_path`). Stays of months whose lookback is incomplete are left out.
    ``prepared`` (:func:`prepare_cusum`) is used when it was cut with these ``lookbacks``.

    One row per measure x site x side x discharge day (``CUSUM_COLUMNS``): the pages draw it
    and :func:`cusum_signals` reads its alarms."""
    if prepared is None or not _same_lookbacks(prepared.lookbacks, lookbacks):
        prepared = prepare_cusum(long, measures, lookbacks)
    series = prepared.series().copy()  # the worker's frame stays as computed
    if series.empty:
        return series
    names = results[results["level"] == "site"].drop_duplicates("unit_id")
    site_name = pd.Series(names["unit_name"].to_numpy(), index=names["unit_id"].to_numpy())
    series["unit_name"] = series["site_id"].map(site_name).fillna(series["site_id"])
    return series


def _cusum_paths(
    frame: pd.DataFrame,
    limits: dict[tuple[str, str, str], tuple[float, float]],
    since: date | None,
) -> pd.DataFrame:
    """:func:`cusum_series`' rows from the stays and limits of :func:`prepare_cusum`, with the
    site id as ``unit_name`` (the names are set by the caller, from the results)."""
    from cmo.stats.cusum import cusum_weights

    if frame.empty:
        return pd.DataFrame(columns=CUSUM_COLUMNS)
    outcome = frame["outcome"].to_numpy(float)
    risk = _cusum_risk(frame)
    day = pd.to_datetime(frame["discharge_date"]).to_numpy("datetime64[D]")
    parts = []
    for (mid, site), at in _cusum_groups(frame):
        for side, odds in CUSUM_ODDS.items():
            h, arl0 = limits[(str(mid), str(site), side)]
            s, alarm = _reset_path(cusum_weights(outcome[at], risk[at], odds), h)
            days = day[at]
            # The day's last stay (days ascend within the group).
            ends = np.flatnonzero(np.append(days[1:] != days[:-1], True))
            starts = np.append(0, ends[:-1] + 1)
            restart = np.append(False, alarm[:-1])  # the stay after an alarm starts from 0
            parts.append(
                pd.DataFrame(
                    {
                        "measure_id": str(mid),
                        "level": "site",
                        "unit_id": str(site),
                        "unit_name": str(site),
                        "site_id": str(site),
                        "side": side,
                        "day": pd.to_datetime(days[ends]).date,
                        "period_start": pd.to_datetime(days[ends].astype("datetime64[M]")).date,
                        "cases": ends + 1,
                        "s": s[ends],
                        "s_max": np.maximum.reduceat(s, starts),
                        "h": h,
                        "arl0": arl0,
                        "odds_ratio": odds,
                        "alarm": np.logical_or.reduceat(alarm, starts),
                        "reset": np.logical_or.reduceat(restart, starts),
                        "since": since,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)[CUSUM_COLUMNS]


def cusum_signals(
    long: ir.Table,
    results: pd.DataFrame,
    measures: dict[str, Measure],
    lookbacks: pd.DataFrame | None = None,
    series: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The CUSUM alarms of :func:`cusum_series` (computed here unless ``series`` is given):
    one row per measure x site x side that alarmed, in the month of its latest alarm."""
    if series is None:
        series = cusum_series(long, results, measures, lookbacks)
    rows = []
    alarms = series[series["alarm"].astype(bool)]
    for (mid, site, side), g in alarms.groupby(["measure_id", "unit_id", "side"], sort=True):
        chart = series[
            (series["measure_id"] == mid) & (series["unit_id"] == site) & (series["side"] == side)
        ]
        latest = g.iloc[-1]
        n = len(g)
        rows.append(
            {
                "measure_id": mid,
                "level": "site",
                "unit_id": site,
                "unit_name": latest["unit_name"],
                "site_id": site,
                "period_start": latest["period_start"],
                "kind": "cusum",
                "direction": "worse" if side == "upper" else "better",
                "detail": f"risk-adjusted CUSUM ({side}, OR {latest['odds_ratio']:g}) above "
                f"h = {latest['h']:.2f} (one false alarm in {latest['arl0']:,.0f} in-control "
                f"cases) on "
                f"{n} day{'s' if n > 1 else ''}, restarted at 0 after each alarm, of "
                f"{int(chart['cases'].max())} stays since {latest['since']}",
                "q_value": None,
                "window": "cusum",
            }
        )
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
