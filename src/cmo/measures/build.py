"""``cmo measures run``: build the core tables, every registered measure, models and results.

Steps (each timed into ``quality__build_run``):
1. ``stays``: core__stay_diagnosis, core__stay_procedure, core__inpatient_stay (with chains);
2. ``core``: core__stay_unit (unit exposure), quality__data_issue, core__comorbidity
   (Charlson/Elixhauser per stay), written on the writer thread's cursor while the main thread
   writes core__drg (MS-DRG, weight, GMLOS, AMLOS; only changed stays are grouped again);
3. ``risk``: each risk-adjusted measure's frozen reference model from quality__reference_model
   (``cmo.measures.reference``); fitted on the reference window and stored as a new version
   only when there is none, on ``refit``, or (``on_stale="refit"``) when the spec changed;
   ``models`` overrides them; tables several measures read are materialised once
   (``Context.shared``);
4. ``long``: every measure's patient-level rows, written once: the risk-adjusted rows are
   scored in the engine; the model cards then read (outcome, expected) back;
5. ``results``: quality__measure_result (period, with the rolling 12 and 24 months, x level x
   unit); IMORT's ICU unit rows are
   scored by the ICU model (``cmo.measures.icu``: ICUs compared only with ICUs);
6. ``signals``: quality__period (complete periods), quality__lookback (the months each
   measure's lookback leaves out), quality__chart_point (monthly control charts),
   quality__funnel_point (yearly and rolling 12/24-month funnels), quality__cusum (each
   site's risk-adjusted CUSUM) and quality__signal read off them (``cmo.stats``): everything
   the pages show, so they compute nothing;
7. ``metadata``: quality__measure, quality__model_card (with out-of-time validation),
   quality__reference_model (new versions appended), quality__build_run.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures import core, data_quality, drg, icu, risk
from cmo.measures import reference as refmodel
from cmo.measures import results as res
from cmo.measures.library import nhsn
from cmo.measures.spec import LONG_SCHEMA, Context, Measure, registry

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from cmo.warehouse import Warehouse

STEPS = ("stays", "core", "risk", "long", "results", "signals", "metadata")


@dataclass
class BuildResult:
    """What a build did: row counts per written table, seconds per step, fitted models."""

    run_id: str
    as_of: date | None
    data_end: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What happened to the reference models: "IMORT: no stored model: fitted version 1 ...".
    notes: list[str] = field(default_factory=list)
    # What the measures said of their inputs: "safety measures have no rows: ...".
    inputs: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


class _Steps:
    """Times each step and drives an optional Rich progress bar."""

    def __init__(self, progress: bool) -> None:
        self.seconds: dict[str, float] = {}
        self._bar: Any = None
        self._task: Any = None
        if progress:
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task("cmo measures run", total=len(STEPS))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self._bar is not None:
            self._bar.update(self._task, description=f"measures: {name}")
        t0 = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t0
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _table(obj: Any, schema: dict[str, str] | None) -> Any:
    if isinstance(obj, pd.DataFrame):
        return ibis.memtable(obj, schema=ibis.schema(schema) if schema else None)
    return obj


def _write(wh: Warehouse, name: str, obj: Any, schema: dict[str, str] | None = None) -> int:
    wh.write(name, _table(obj, schema))
    return wh.count(name)


def _write_on(
    pool: ThreadPoolExecutor,
    wh: Warehouse,
    name: str,
    obj: Any,
    schema: dict[str, str] | None = None,
) -> Future[None]:
    """``_write`` on ``pool``'s thread (``Warehouse.write_on``); :func:`_written` waits."""
    return wh.write_on(pool, name, _table(obj, schema))


def _written(wh: Warehouse, out: BuildResult, name: str, done: Future[None]) -> None:
    """Wait for a :func:`_write_on` and count its rows (its error, if any, is raised here)."""
    done.result()
    out.rows[name] = wh.count(name)


def run(
    wh: Warehouse,
    *,
    as_of: date | None = None,
    progress: bool | None = None,
    models: dict[str, dict[str, Any]] | None = None,
    reference: tuple[date, date] | None = None,
    on_step: Callable[[str, float], None] | None = None,
    refit: Collection[str] | None = None,
    on_stale: str = "refit",
) -> BuildResult:
    """Build core__* and quality__* tables from the fhir__* tables of ``wh``.

    ``as_of`` sets the data end (default: the latest encounter end). Risk models are the
    frozen reference models of quality__reference_model (``cmo.measures.reference``): a
    measure without one gets one fitted on ``reference`` (default: the first 24 months of
    discharges) and stored. ``refit`` (measure ids; ``IMORT`` includes its ICU model) fits
    and stores new versions on ``reference``. A stored model whose spec hash differs from the
    code's is refitted (``on_stale="refit"``, said in ``notes``) or stops the build with
    :class:`cmo.measures.reference.StaleModel` (``"error"``). ``models`` (measure id -> model
    dict, as in a model card's ``model``) overrides them all and stores nothing.
    """
    if progress is None:
        progress = sys.stdout.isatty()
    steps = _Steps(bool(progress))
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = uuid.uuid4().hex[:12]
    measures = registry()
    end = core.data_end(wh, as_of)
    out = BuildResult(run_id=run_id, as_of=as_of, data_end=end)
    # Stale stored models stop the build here, before any step runs.
    plan = _model_plan(wh, measures, models, refit, on_stale, reference)
    # Python work (model fits, the CUSUM's limits, model cards) runs on this one worker thread
    # while the engine or the main thread works: numpy releases the GIL, so on 2 cores the two
    # overlap. One worker, not more: with the CUSUM's two sides and the cards on three threads
    # beside the main one, each waited on the GIL for half its time (the results and signals
    # steps 1 s slower at 1M stays).
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmo-build")
    # Imports a fresh process pays later (~4 s: the ICD-10-CM code set, scipy.stats) load now,
    # while the stays step keeps the engine busy and the main thread waits on it.
    background.submit(_preload)
    # Writes beside the main thread's (``Warehouse.write_on``) run on a thread of their own,
    # not behind the worker's model fits.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmo-write")
    try:
        with steps.step("stays"):
            stays_raw = core.inpatient_encounters(wh).select(id=ibis._.id)
            # The procedures on the writer thread's cursor while this thread writes the diagnoses.
            procs = core.stay_procedures(wh, stays_raw)
            procs_written = _write_on(writer, wh, "core__stay_procedure", procs)
            dx = core.stay_diagnoses(wh, stays_raw)
            out.rows["core__stay_diagnosis"] = _write(wh, "core__stay_diagnosis", dx)
            _written(wh, out, "core__stay_procedure", procs_written)
            stays = core.build_stays(
                wh, wh.table("core__stay_diagnosis"), wh.table("core__stay_procedure")
            )
            out.rows["core__inpatient_stay"] = _write(wh, "core__inpatient_stay", stays)
        stays = wh.table("core__inpatient_stay")
        with steps.step("core"):
            _core_tables(wh, stays, writer, out)
        ctx = Context(
            wh=wh,
            stays=stays,
            comorbidity=wh.table("core__comorbidity"),
            drg=wh.table("core__drg"),
            procedures=wh.table("core__stay_procedure"),
            data_end=end,
        )
        with steps.step("risk"):
            window = reference or _window(ctx)
            fitted, new_models = _fit_models(ctx, measures, plan, window, background, out.notes)
            out.models = fitted
        with steps.step("long"):
            # One write of every measure's rows; the risk-adjusted ones carry their predicted
            # probability, scored in the engine by the fitted model's linear predictor. Each
            # measure's rows are inserted on the writer's cursor while this thread builds the
            # next measure's expression and scratch tables (Python work, ~1.2 s at 1M stays).
            parts = (_long(m, ctx, fitted.get(mid)) for mid, m in measures.items())
            wh.write_parts_on(writer, "quality__measure_long", parts)
            out.rows["quality__measure_long"] = wh.count("quality__measure_long")
            out.inputs = list(ctx.extra.get("notes", []))
        long = wh.table("quality__measure_long")
        with steps.step("results"):
            counts = result_counts(wh, long, measures)
            # The CUSUM's limits, then the model cards (numpy on the worker thread) start once
            # the engine's scans are done: beside them they slowed the scans by more than they
            # took; beside the pandas of the results and signals they use the idle core.
            start = res.long_data_start(long)
            lookbacks = res.lookback_from(start, measures, _missing_poa(wh))
            cusum = res.prepare_cusum(
                long, measures, lookbacks, submit=background.submit, fetcher=wh.fetcher
            )
            cards = _model_cards(long, fitted, background, wh.fetcher)
            icu_rows = _icu(ctx, long, plan, window, new_models, out, background, cards)
            final = result_frame(wh, long, measures, fitted, end, counts=counts)
            if icu_rows is not None:  # ICUs compared only with ICUs (cmo.measures.icu)
                scored, units, rate = icu_rows
                icu_final = icu.unit_results(
                    scored, measures[icu.MEASURE], rate, res.unit_names(wh)
                )
                final = icu.replace_unit_rows(final, icu_final, units)
            out.rows["quality__measure_result"] = _write(
                wh, "quality__measure_result", final[list(RESULT_SCHEMA)], RESULT_SCHEMA
            )
        with steps.step("signals"):
            # What the pages show is computed here, once per build: periods, control-chart
            # points, funnel points, and the signals read off them (docs/measures/results.md).
            frames = signal_frames(wh, final, long, measures, end, cusum)
            for name, frame in frames.items():
                schema = SIGNAL_TABLES[name]
                out.rows[name] = _write(wh, name, frame[list(schema)], schema)
        with steps.step("metadata"):
            spec_rows = pd.DataFrame([m.spec.row() for m in measures.values()])
            out.rows["quality__measure"] = _write(wh, "quality__measure", spec_rows, MEASURE_SCHEMA)
            card_rows = pd.DataFrame(
                [
                    {"measure_id": mid, "built_at": started, "card_json": json.dumps(card.result())}
                    for mid, card in cards.items()
                ],
                columns=["measure_id", "built_at", "card_json"],
            )
            out.rows["quality__model_card"] = _write(
                wh, "quality__model_card", card_rows, CARD_SCHEMA
            )
            if new_models:
                out.rows[refmodel.TABLE] = refmodel.store(wh, new_models)
        out.seconds = dict(steps.seconds)
        _write_run_log(wh, out, started)
    finally:
        background.shutdown(cancel_futures=True)
        writer.shutdown(cancel_futures=True)
        steps.close()
    if on_step:
        for name, secs in out.seconds.items():
            on_step(name, secs)
    return out


def _core_tables(
    wh: Warehouse, stays: ir.Table, writer: ThreadPoolExecutor, out: BuildResult
) -> None:
    """The tables read off the stays: unit exposure, data issues (vital-status conflicts,
    stays without attending, invalid codes, missing POA) and comorbidity on the writer's
    cursor, in turn, while this thread groups the DRGs.

    None reads another. Each query alone leaves a core idle in its single-threaded phases
    (the comorbidity's 1M-row write, the grouper's distinct signatures): side by side, 1.0 s
    less at 1M stays.
    """
    dx = wh.table("core__stay_diagnosis")
    aside = {
        "core__stay_unit": core.stay_units(wh, stays),
        "quality__data_issue": data_quality.issues(wh),
        "core__comorbidity": core.comorbidity(dx, stays),
    }
    pending = {name: _write_on(writer, wh, name, expr) for name, expr in aside.items()}
    drg_rows = drg.build_drg(wh, stays, dx, wh.table("core__stay_procedure"))
    out.rows["core__drg"] = _write(wh, "core__drg", drg_rows)
    for name, done in pending.items():
        _written(wh, out, name, done)


RESULT_SCHEMA = {
    "measure_id": "string",
    "period_type": "string",
    "period_start": "date",
    "level": "string",
    "unit_id": "string",
    "unit_name": "string",
    "site_id": "string",
    "denominator": "int64",
    "numerator": "float64",
    "rate": "float64",
    "expected": "float64",
    "oe": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "rsr": "float64",
    "median": "float64",
    # Empirical-Bayes O/E and its 95% interval (cmo.stats.shrinkage); small_cell: too few to
    # judge (results.SMALL_CELL_CASES / SMALL_CELL_EXPECTED), never signalled.
    "shrunk_ratio": "float64",
    "shrunk_low": "float64",
    "shrunk_high": "float64",
    "small_cell": "boolean",
    "exposure": "float64",  # the rate's denominator when not the row count (spec.LONG_SCHEMA)
}
SIGNAL_SCHEMA = {
    "measure_id": "string",
    "level": "string",
    "unit_id": "string",
    "unit_name": "string",
    "site_id": "string",
    "period_start": "date",
    "kind": "string",
    "direction": "string",
    "detail": "string",
    "q_value": "float64",  # funnel signals: Benjamini-Hochberg q; null for charts and CUSUM
    "window": "string",  # 'year', 'rolling12', 'rolling24', 'month', 'cusum'
    "current": "boolean",
}
PERIOD_SCHEMA = {
    "period_type": "string",
    "period_start": "date",
    "period_end": "date",
    "complete": "boolean",
    "latest_complete": "boolean",
}
_UNIT = {"measure_id": "string", "level": "string", "unit_id": "string"}
_NAMES = {"unit_name": "string", "site_id": "string"}
CHART_SCHEMA = {
    **_UNIT,
    **_NAMES,
    "chart": "string",
    "period_start": "date",
    "numerator": "float64",
    "denominator": "int64",
    "y": "float64",
    "cl": "float64",
    "ucl": "float64",
    "lcl": "float64",
    "sigma_signal": "boolean",
    "runs_signal": "boolean",
    "small_cell": "boolean",
    "lookback_complete": "boolean",  # False: before the measure's lookback is complete
}
FUNNEL_SCHEMA = {
    **_UNIT,
    **_NAMES,
    "period_start": "date",
    "period_end": "date",  # exclusive
    "window": "string",  # 'year' (calendar), 'rolling12', 'rolling24'
    "denominator": "int64",
    "numerator": "float64",
    "expected": "float64",
    "ratio": "float64",
    "target": "float64",
    "lcl_95": "float64",
    "ucl_95": "float64",
    "lcl_99_8": "float64",
    "ucl_99_8": "float64",
    "outlier_95": "boolean",
    "outlier_99_8": "boolean",
    "p_value": "float64",
    "q_value": "float64",  # Benjamini-Hochberg over the not-small units of the family
    "shrunk_ratio": "float64",
    "shrunk_low": "float64",
    "shrunk_high": "float64",
    "small_cell": "boolean",
    "lookback_complete": "boolean",
    "phi": "float64",
    "tau2": "float64",
}
LOOKBACK_SCHEMA = {
    "measure_id": "string",
    "data_start": "date",
    "lookback_months": "int64",
    "first_month": "date",
    "reason": "string",
}
MEASURE_SCHEMA = {
    "measure_id": "string",
    "version": "string",
    "title": "string",
    "description": "string",
    "unit_of_analysis": "string",
    "method": "string",
    "citation": "string",
    "direction": "string",
    "target": "float64",
    "kind": "string",
    "risk_adjusted": "boolean",
    "unit": "string",
    "attribution": "string",  # the practitioner attribution rule (spec.Measure.attribution)
    "group": "string",  # spec.GROUPS: the dashboard's and the board report's section
}
CUSUM_SCHEMA = {
    **_UNIT,
    **_NAMES,
    "side": "string",  # 'upper' (deterioration) or 'lower' (improvement)
    "day": "date",
    "period_start": "date",
    "cases": "int64",
    "s": "float64",
    "s_max": "float64",
    "h": "float64",
    "arl0": "float64",
    "odds_ratio": "float64",
    "alarm": "boolean",
    "reset": "boolean",
    "since": "date",
}
SIGNAL_TABLES = {
    "quality__period": PERIOD_SCHEMA,
    "quality__chart_point": CHART_SCHEMA,
    "quality__funnel_point": FUNNEL_SCHEMA,
    "quality__signal": SIGNAL_SCHEMA,
    "quality__lookback": LOOKBACK_SCHEMA,
    "quality__cusum": CUSUM_SCHEMA,
}
CARD_SCHEMA = {"measure_id": "string", "built_at": "timestamp", "card_json": "string"}
RUN_SCHEMA = {
    "run_id": "string",
    "started": "timestamp",
    "finished": "timestamp",
    "as_of": "date",
    "data_end": "date",
    "step": "string",
    "step_order": "int64",
    "seconds": "float64",
}


def result_counts(wh: Warehouse, long: ir.Table, measures: dict[str, Measure]) -> res.Counts:
    """The engine's part of the results: the long rows counted (``results.count_rows``)."""
    located = tuple(mid for mid, m in measures.items() if m.located)
    return res.count_rows(long, wh.table("core__stay_unit"), located)


def result_frame(
    wh: Warehouse,
    long: ir.Table,
    measures: dict[str, Measure],
    fitted: dict[str, dict[str, Any]],
    end: date | None = None,
    counts: res.Counts | None = None,
) -> pd.DataFrame:
    """quality__measure_result from the long rows (with the internal columns the signals step
    reads: ``results.INTERNAL_COLUMNS``); with the data ``end``, the rolling 12 and 24 months
    too (``results.ROLLING_PERIODS``). ``counts``: :func:`result_counts`, when already read."""
    if counts is None:
        counts = result_counts(wh, long, measures)
    agg = res.aggregate(counts, rolling_end=end)
    ref_rates = _reference_rates(agg, fitted)
    sites = res.unit_sites(counts)
    final = res.finish(agg, measures, ref_rates, res.unit_names(wh), sites)
    for m in measures.values():
        if m.finish is not None:  # composites (PSI 90) from their components' rows
            final = m.finish(final)
    return final


def signal_frames(
    wh: Warehouse,
    final: pd.DataFrame,
    long: ir.Table,
    measures: dict[str, Measure],
    end: date,
    cusum: res.CusumInput | None = None,
) -> dict[str, pd.DataFrame]:
    """The signals step's tables (``SIGNAL_TABLES``) from the results: periods, each measure's
    lookback, control-chart points, funnel points and the signals read off them plus the
    CUSUM's (``cusum``: prepared ahead by ``res.prepare_cusum``, used when cut with the same
    lookbacks) and the NHSN SIRs' (also run by ``python -m benchmarks signals`` on simulated
    outcomes)."""
    period_rows = res.periods(final, end)
    # Months whose lookback reaches before the data start raise nothing.
    lookbacks = res.lookback(final, measures, _missing_poa(wh))
    charts = res.chart_points(final, measures, end, lookbacks)
    # ICUs are compared only with ICUs (their IMORT rows are scored by the ICU model).
    peers = {icu.MEASURE: dict.fromkeys(icu.unit_ids(wh), "icu")}
    funnels = res.funnel_points(final, measures, end, lookbacks, peers)
    series = res.cusum_series(long, final, measures, lookbacks, prepared=cusum)
    parts = [
        res.signals(final, measures, end, charts, funnels),
        res.cusum_signals(long, final, measures, series=series),
        nhsn.sir_signals(final, measures, end),  # quarterly NHSN SIRs (kind "sir")
    ]
    # From records: concatenating frames whose q_value is all null warns (pandas 2.x).
    records = [r for p in parts for r in p.to_dict("records")]
    sig = pd.DataFrame(records, columns=res.SIGNAL_COLUMNS)
    sig = res.mark_current(sig, period_rows)
    return {
        "quality__period": period_rows,
        "quality__chart_point": charts,
        "quality__funnel_point": funnels,
        "quality__signal": sig,
        "quality__lookback": lookbacks,
        "quality__cusum": series,
    }


def _preload() -> None:
    """Import what later steps import on first use (see ``run``)."""
    import scipy.stats  # noqa: F401  (cmo.stats' intervals and funnels)
    import simple_icd_10_cm  # noqa: F401  (data_quality's ICD-10-CM validity check)


def _long(m: Measure, ctx: Context, model: dict[str, Any] | None = None) -> ir.Table:
    """A measure's long rows in the contract's column order and types; with a ``model``,
    ``expected`` is its predicted probability for the rows in the population."""
    t = m.long(ctx)
    if model is not None:
        t = t.left_join(_scoring_table(ctx), "stay_id").drop("stay_id_right")
        # The body-system term is string work: done once per distinct principal diagnosis
        # (it was 1.2 s of CPU per model at 1M stays when done per row).
        codes = _principal_codes(ctx)
        codes = codes.mutate(_system=risk.system_term(codes._dx, model))
        t = t.left_join(codes, t.principal_dx == codes._dx)
        p = risk.probability(t, model, system=t._system.fill_null(0.0))
        t = t.mutate(
            expected=ibis.cases((t.in_population & ~t.excluded, p), else_=ibis.null("float64"))
        )
    cols = {}
    for name, typ in LONG_SCHEMA.items():
        cols[name] = t[name].cast(typ) if name in t.columns else ibis.null(typ)
    return t.select(**cols)


def _principal_codes(ctx: Context) -> ir.Table:
    """(``_dx``): the distinct principal diagnoses, a few thousand rows read once per build
    instead of a distinct over every stay per risk-adjusted measure."""
    return ctx.shared(
        "principal_codes", lambda: ctx.stays.principal_dx.name("_dx").as_table().distinct()
    )


def _scoring_table(ctx: Context) -> ir.Table:
    """Every stay with the raw model covariates (stays joined to comorbidity)."""
    from cmo import terminology

    s = ctx.stays.select("stay_id", "age", "sex", "priority", "principal_dx")
    flags = [f"el_{c}" for c in terminology.categories("elixhauser")]
    # Built once per build: every risk-adjusted measure (14 with the PSIs) joins it twice.
    return ctx.shared(
        "risk_scoring", lambda: s.join(ctx.comorbidity.select("stay_id", *flags), "stay_id")
    )


def _fit_frame(ctx: Context, m: Measure, reference: tuple[date, date] | None) -> pd.DataFrame:
    """The rows a model is fitted on: the population in the reference window, every k-th stay
    by id when the window holds more than ``risk.MAX_FIT_ROWS`` (a deterministic sample, the
    same on any engine), pulled in one query with the window's size (``attrs["n_reference"]``).
    """
    rows = _long(m, ctx)
    rows = rows.filter(rows.in_population & ~rows.excluded)
    if reference is not None:
        rows = rows.filter(rows.discharge_date.between(reference[0], reference[1]))
    t = rows.select("stay_id", "outcome")
    t = t.mutate(_rn=ibis.row_number().over(order_by="stay_id"), _n=t.stay_id.count().over())
    step = (t._n + (risk.MAX_FIT_ROWS - 1)) // risk.MAX_FIT_ROWS  # 1 up to MAX_FIT_ROWS rows
    # Sample first, then join the covariates: only the sample's rows are joined.
    t = t.filter(t._rn % step == 0).join(_scoring_table(ctx), "stay_id")
    frame = t.order_by("stay_id").to_pandas()
    n = int(frame["_n"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns=["_rn", "_n"])
    frame.attrs["n_reference"] = n
    return frame


@dataclass
class _Plan:
    """Which reference model each key (measure id, or ``IMORT/ICU``) gets in this build."""

    override: dict[str, dict[str, Any]] = field(default_factory=dict)  # ``models`` passed in
    use: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored, reused as is
    fit: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # reason, spec, version


def _model_plan(
    wh: Warehouse,
    measures: dict[str, Measure],
    models: dict[str, dict[str, Any]] | None,
    refit: Collection[str] | None,
    on_stale: str,
    window: tuple[date, date] | None,
) -> _Plan:
    """Reuse the stored model of each key, or say why a new version is fitted; stale stored
    models stop the build when ``on_stale == "error"`` (before any step runs)."""
    stored = refmodel.load(wh)
    wanted = {r.upper() for r in refit or ()}
    if icu.MEASURE in wanted:
        wanted.add(icu.KEY)
    specs = {mid: refmodel.spec_hash(m.spec.row()) for mid, m in measures.items() if m.risk_model}
    if icu.MEASURE in specs:
        specs[icu.KEY] = refmodel.spec_hash(measures[icu.MEASURE].spec.row(), icu.EXTRAS)
    plan = _Plan(override={k: v for k, v in (models or {}).items() if k in specs})
    stale = []
    for key, spec in specs.items():
        if key in plan.override:
            continue
        old = stored.get(key)
        version = int(old.get("model_version", 0)) + 1 if old else 1
        if key in wanted:
            plan.fit[key] = ("refit", spec, version)
        elif old is None:
            plan.fit[key] = ("first build: no stored reference model", spec, version)
        elif old.get("spec_hash") != spec:
            if on_stale == "error":
                stale.append(f"{key} (version {old.get('model_version')})")
                continue
            plan.fit[key] = ("the measure spec or covariates changed", spec, version)
        elif (
            window is not None
            and not wanted  # a refit names its measures; `run --reference-*` means all
            and (old.get("window_start"), old.get("window_end"))
            != (window[0].isoformat(), window[1].isoformat())
        ):
            plan.fit[key] = ("a new reference window was given", spec, version)
        else:
            plan.use[key] = old
    if stale:
        keys = sorted({s.split(" ")[0].split("/")[0] for s in stale})
        raise refmodel.StaleModel(
            f"stored reference model {', '.join(stale)} was fitted for another measure spec or "
            "covariate set",
            hint="refit it with `cmo measures model refit"
            + "".join(f" --measure {k}" for k in keys[:1])
            + "` (old versions are kept; `cmo measures model list` shows them)",
        )
    return plan


def _window(ctx: Context) -> tuple[date, date]:
    return refmodel.default_window(ctx.stays, ctx.data_end)


def _fit_models(
    ctx: Context,
    measures: dict[str, Measure],
    plan: _Plan,
    window: tuple[date, date],
    background: ThreadPoolExecutor,
    notes: list[str],
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Each risk-adjusted measure's model: passed in, the stored one, or fitted on a sample
    pulled from the engine and stamped as a new version (returned second, to be stored). A
    measure without both outcomes in its window gets none.

    Each fit runs on ``background`` while the engine pulls the next measure's sample."""
    fits: dict[str, dict[str, Any] | Future[dict[str, Any]]] = {}
    to_fit = {
        mid: m
        for mid, m in measures.items()
        if m.risk_model and mid not in plan.override and mid not in plan.use
    }
    both = _with_both_outcomes(ctx, to_fit, window)
    for mid, m in measures.items():
        if not m.risk_model:
            continue
        if mid in plan.override or mid in plan.use:
            fits[mid] = plan.override.get(mid) or plan.use[mid]
            continue
        # A measure whose window lacks an outcome (a rare-event PSI in its first months) is
        # not sampled and pulled, only counted (with the others, in one query).
        fit_rows = _fit_frame(ctx, m, window) if mid in both else pd.DataFrame()
        if len(fit_rows) == 0 or fit_rows["outcome"].nunique() < 2:
            notes.append(
                f"{mid}: no model: the window {window[0]} to {window[1]} lacks both outcomes"
            )
            continue
        reason, spec, version = plan.fit[mid]
        fits[mid] = background.submit(_fit_one, fit_rows, mid, window, (spec, version, reason))
    fitted = {mid: f.result() if isinstance(f, Future) else f for mid, f in fits.items()}
    new = [fitted[k] for k in plan.fit if k in fitted]
    for key, model in fitted.items():
        notes.append(_note(key, model, key in plan.fit, key in plan.override))
    return fitted, new


def _with_both_outcomes(
    ctx: Context, measures: dict[str, Measure], window: tuple[date, date]
) -> set[str]:
    """The measures whose population in the reference window has at least two distinct
    outcomes (the condition for a fit), from one aggregate over all of them: the sample of
    :func:`_fit_frame` (a sort of the window's stays and a join) is pulled only for those."""
    if not measures:
        return set()
    parts = []
    for mid, m in measures.items():
        rows = _long(m, ctx)
        rows = rows.filter(
            rows.in_population
            & ~rows.excluded
            & rows.discharge_date.between(window[0], window[1])
            & rows.outcome.notnull()
        )
        parts.append(rows.select(measure_id=ibis.literal(mid), outcome=rows.outcome))
    rows = ibis.union(*parts) if len(parts) > 1 else parts[0]
    counts = rows.group_by("measure_id").aggregate(values=rows.outcome.nunique()).to_pandas()
    return {
        str(mid) for mid, n in zip(counts["measure_id"], counts["values"], strict=True) if n > 1
    }


def _note(key: str, model: dict[str, Any], new: bool, passed: bool) -> str:
    if passed:
        return f"{key}: scored with the model passed in (not stored)"
    v, h, w = model.get("model_version"), str(model.get("model_hash", ""))[:12], model["window"]
    if new:
        return (
            f"{key}: {model.get('reason')}: fitted reference model version {v} on discharges "
            f"{w} (n={model['n_fit']}, hash {h}) and stored it in {refmodel.TABLE}"
        )
    return f"{key}: scored with stored reference model version {v} (window {w}, hash {h})"


def _fit_one(
    fit_rows: pd.DataFrame,
    measure_id: str,
    window: tuple[date, date],
    identity: tuple[str, int, str],
) -> dict[str, Any]:
    model = risk.fit(fit_rows, measure_id, window=f"{window[0]} to {window[1]}")
    model["n_reference"] = int(fit_rows.attrs["n_reference"])
    spec, version, reason = identity
    return refmodel.stamp(model, measure_id, version, spec, window, reason)


def _icu(
    ctx: Context,
    long: ir.Table,
    plan: _Plan,
    window: tuple[date, date],
    new_models: list[dict[str, Any]],
    out: BuildResult,
    background: ThreadPoolExecutor,
    cards: dict[str, Future[dict[str, Any]]],
) -> tuple[pd.DataFrame, list[str], float] | None:
    """IMORT's rows at each ICU scored by the ICU model (``cmo.measures.icu``): the model
    passed in, stored, or fitted now; its card goes into ``cards``. None without ICUs, without
    an IMORT model, or without both outcomes among ICU stays (the ICU rows then keep the
    hospital-wide model, said in the notes)."""
    if icu.MEASURE not in out.models:
        return None
    units = icu.icu_units(ctx)
    if not units:
        return None
    frame = icu.icu_frame(ctx, long, units, _scoring_table(ctx))
    key = icu.KEY
    if key in plan.override or key in plan.use:
        model = plan.override.get(key) or plan.use[key]
    else:
        reason, spec, version = plan.fit[key]
        fitted = icu.fit(frame, window)
        if fitted is None:
            out.notes.append(
                f"{key}: no ICU model (too few ICU stays or no deaths in the "
                "window): ICU unit rows use the hospital-wide model"
            )
            return None
        model = refmodel.stamp(fitted, key, version, spec, window, reason)
        new_models.append(model)
    out.notes.append(_note(key, model, key in plan.fit, key in plan.override))
    out.models[key] = model
    scored = icu.score(frame, model)
    kept = scored[~scored["excluded"].astype(bool)].drop_duplicates("stay_id")
    cards[key] = background.submit(
        risk.model_card, kept, model, kept["expected"].to_numpy(float), kept["discharge_date"]
    )
    return scored, units, float(model["reference_rate"])


def _model_cards(
    long: ir.Table,
    fitted: dict[str, dict[str, Any]],
    background: ThreadPoolExecutor,
    fetcher: Callable[[ir.Table], Callable[[], pa.Table]],
) -> dict[str, Future[dict[str, Any]]]:
    """A model card per fitted model from the population's (outcome, expected, discharge
    date) in the long table, fetched and computed on ``background`` (the results step does not
    need them; ``fetcher``: ``Warehouse.fetcher``, a cursor of the worker's own). No ordering
    is needed (the card's statistics do not depend on row order), which spares sorting a
    million stay ids per model. The discharge dates split the rows at the model's window for
    the out-of-time validation (``risk.model_card``)."""
    cards = {}
    for mid, model in fitted.items():
        pop = long.filter((long.measure_id == mid) & long.in_population & ~long.excluded)
        fetch = fetcher(pop.select("outcome", "expected", "discharge_date"))
        cards[mid] = background.submit(_model_card, fetch, model)
    return cards


def _model_card(fetch: Callable[[], pa.Table], model: dict[str, Any]) -> dict[str, Any]:
    yp = fetch().to_pandas(date_as_object=False)
    return risk.model_card(yp, model, yp["expected"].to_numpy(float), yp["discharge_date"])


def _reference_rates(agg: pd.DataFrame, fitted: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The model's reference rate, else the system's overall rate (LOS: mean days)."""
    system = agg[(agg["level"] == "system") & (agg["period_type"] == "year")]
    totals = system.groupby("measure_id")[["numerator", "denominator", "exposure"]].sum(min_count=1)
    rates: dict[str, float] = {}
    for mid, r in totals.iterrows():
        per = r["exposure"] if pd.notna(r["exposure"]) else r["denominator"]
        if per:  # rates per exposure (device days, responders) when the measure has one
            rates[str(mid)] = float(r["numerator"] / per)
    for mid, model in fitted.items():
        rates[mid] = float(model["reference_rate"])
    return rates


def _missing_poa(wh: Warehouse) -> float | None:
    """The system's share of secondary diagnoses without a POA indicator (one aggregate row
    of quality__data_issue's per-site ``missing_poa_share``), or None."""
    if not wh.exists("quality__data_issue"):
        return None
    t = wh.table("quality__data_issue")
    t = t.filter(t.issue == "missing_poa_share")
    row = t.aggregate(
        missing=(t.value * t.n.cast("float64")).sum(), n=t.n.cast("float64").sum()
    ).to_pandas()
    if row.empty or not row["n"].iloc[0] or pd.isna(row["n"].iloc[0]):
        return None
    return float(row["missing"].iloc[0] / row["n"].iloc[0])


def _write_run_log(wh: Warehouse, out: BuildResult, started: datetime) -> None:
    finished = datetime.now(UTC).replace(tzinfo=None)
    rows = pd.DataFrame(
        [
            {
                "run_id": out.run_id,
                "started": started,
                "finished": finished,
                "as_of": out.as_of,
                "data_end": out.data_end,
                "step": name,
                "step_order": i,
                "seconds": secs,
            }
            for i, (name, secs) in enumerate(out.seconds.items())
        ]
    )
    _write(wh, "quality__build_run", rows, RUN_SCHEMA)
