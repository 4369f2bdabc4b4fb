"""``cmo measures run``: build the core tables, every registered measure, models and results.

Steps (each timed into ``quality__build_run``):
1. ``stays``: core__stay_diagnosis, core__stay_procedure, core__inpatient_stay (with chains),
   core__stay_unit (unit exposure);
2. ``comorbidity``: core__comorbidity (Charlson/Elixhauser per stay);
3. ``drg``: core__drg (MS-DRG, weight, GMLOS, AMLOS; only changed stays are grouped again);
4. ``risk``: logistic models fitted once on a sample pulled from the engine (or taken from
   ``models``); tables several measures read are materialised once (``Context.shared``);
5. ``long``: every measure's patient-level rows, written once: the risk-adjusted rows are
   scored in the engine; the model cards then read (outcome, expected) back;
6. ``results``: quality__measure_result (period x level x unit);
7. ``signals``: quality__period (complete periods), quality__chart_point (monthly control
   charts), quality__funnel_point (yearly funnels) and quality__signal read off them
   (``cmo.stats``): everything the pages show, so they compute nothing;
8. ``metadata``: quality__measure, quality__model_card, quality__build_run.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures import core, data_quality, drg, risk
from cmo.measures import results as res
from cmo.measures.spec import LONG_SCHEMA, Context, Measure, registry

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

STEPS = ("stays", "comorbidity", "drg", "risk", "long", "results", "signals", "metadata")


@dataclass
class BuildResult:
    """What a build did: row counts per written table, seconds per step, fitted models."""

    run_id: str
    as_of: date | None
    data_end: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

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


def _write(wh: Warehouse, name: str, obj: Any, schema: dict[str, str] | None = None) -> int:
    if isinstance(obj, pd.DataFrame):
        obj = ibis.memtable(obj, schema=ibis.schema(schema) if schema else None)
    wh.write(name, obj)
    return wh.count(name)


def run(
    wh: Warehouse,
    *,
    as_of: date | None = None,
    progress: bool | None = None,
    models: dict[str, dict[str, Any]] | None = None,
    reference: tuple[date, date] | None = None,
    on_step: Callable[[str, float], None] | None = None,
) -> BuildResult:
    """Build core__* and quality__* tables from the fhir__* tables of ``wh``.

    ``as_of`` sets the data end (default: the latest encounter end). ``models`` reuses fitted
    models (measure id -> model dict, as in a model card's ``model``) instead of fitting;
    ``reference`` fits on discharges within [start, end] instead of all data.
    """
    if progress is None:
        progress = sys.stdout.isatty()
    steps = _Steps(bool(progress))
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = uuid.uuid4().hex[:12]
    measures = registry()
    end = core.data_end(wh, as_of)
    out = BuildResult(run_id=run_id, as_of=as_of, data_end=end)
    # Python work (model fits, model cards) runs on this one worker thread while the engine
    # runs the next query: the engine releases the GIL, so on 2 cores the two overlap instead
    # of the engine idling through ~3 s of numpy at 1M stays.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmo-build")
    try:
        with steps.step("stays"):
            stays_raw = core.inpatient_encounters(wh).select(id=ibis._.id)
            dx = core.stay_diagnoses(wh, stays_raw)
            out.rows["core__stay_diagnosis"] = _write(wh, "core__stay_diagnosis", dx)
            procs = core.stay_procedures(wh, stays_raw)
            out.rows["core__stay_procedure"] = _write(wh, "core__stay_procedure", procs)
            stays = core.build_stays(
                wh, wh.table("core__stay_diagnosis"), wh.table("core__stay_procedure")
            )
            out.rows["core__inpatient_stay"] = _write(wh, "core__inpatient_stay", stays)
            units = core.stay_units(wh, wh.table("core__inpatient_stay"))
            out.rows["core__stay_unit"] = _write(wh, "core__stay_unit", units)
            # Vital-status conflicts, stays without attending, invalid codes, missing POA.
            issues = data_quality.issues(wh)
            out.rows["quality__data_issue"] = _write(wh, "quality__data_issue", issues)
        stays = wh.table("core__inpatient_stay")
        with steps.step("comorbidity"):
            cm = core.comorbidity(wh.table("core__stay_diagnosis"), stays)
            out.rows["core__comorbidity"] = _write(wh, "core__comorbidity", cm)
        with steps.step("drg"):
            drg_rows = drg.build_drg(
                wh, stays, wh.table("core__stay_diagnosis"), wh.table("core__stay_procedure")
            )
            out.rows["core__drg"] = _write(wh, "core__drg", drg_rows)
        ctx = Context(
            wh=wh,
            stays=stays,
            comorbidity=wh.table("core__comorbidity"),
            drg=wh.table("core__drg"),
            procedures=wh.table("core__stay_procedure"),
            data_end=end,
        )
        with steps.step("risk"):
            fitted = _fit_models(ctx, measures, models, reference, background)
            out.models = fitted
        with steps.step("long"):
            # One write of every measure's rows; the risk-adjusted ones carry their predicted
            # probability, scored in the engine by the fitted model's linear predictor.
            parts = [_long(m, ctx, fitted.get(mid)) for mid, m in measures.items()]
            wh.write("quality__measure_long", parts[0], more=parts[1:])
            out.rows["quality__measure_long"] = wh.count("quality__measure_long")
            cards = _model_cards(wh.table("quality__measure_long"), fitted, background)
        long = wh.table("quality__measure_long")
        with steps.step("results"):
            counts = res.count_rows(long, wh.table("core__stay_unit"))
            agg = res.aggregate(counts)
            ref_rates = _reference_rates(agg, fitted)
            sites = res.unit_sites(counts)
            final = res.finish(agg, measures, ref_rates, res.unit_names(wh), sites)
            for m in measures.values():
                if m.finish is not None:  # composites (PSI 90) from their components' rows
                    final = m.finish(final)
            out.rows["quality__measure_result"] = _write(
                wh, "quality__measure_result", final, RESULT_SCHEMA
            )
        with steps.step("signals"):
            # What the pages show is computed here, once per build: periods, control-chart
            # points, funnel points, and the signals read off them (docs/measures/results.md).
            period_rows = res.periods(final, end)
            charts = res.chart_points(final, measures, end)
            funnels = res.funnel_points(final, measures, end)
            sig = pd.concat(
                [
                    res.signals(final, measures, end, charts, funnels),
                    res.cusum_signals(long, final, measures),
                ],
                ignore_index=True,
            )
            sig = res.mark_current(sig, period_rows)
            for name, frame, schema in (
                ("quality__period", period_rows, PERIOD_SCHEMA),
                ("quality__chart_point", charts, CHART_SCHEMA),
                ("quality__funnel_point", funnels, FUNNEL_SCHEMA),
                ("quality__signal", sig, SIGNAL_SCHEMA),
            ):
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
        out.seconds = dict(steps.seconds)
        _write_run_log(wh, out, started)
    finally:
        background.shutdown(cancel_futures=True)
        steps.close()
    if on_step:
        for name, secs in out.seconds.items():
            on_step(name, secs)
    return out


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
}
FUNNEL_SCHEMA = {
    **_UNIT,
    **_NAMES,
    "period_start": "date",
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


def _long(m: Measure, ctx: Context, model: dict[str, Any] | None = None) -> ir.Table:
    """A measure's long rows in the contract's column order and types; with a ``model``,
    ``expected`` is its predicted probability for the rows in the population."""
    t = m.long(ctx)
    if model is not None:
        t = t.left_join(_scoring_table(ctx), "stay_id").drop("stay_id_right")
        # The body-system term is string work: done once per distinct principal diagnosis
        # (it was 1.2 s of CPU per model at 1M stays when done per row).
        codes = ctx.stays.principal_dx.name("_dx").as_table().distinct()
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


def _fit_models(
    ctx: Context,
    measures: dict[str, Measure],
    models: dict[str, dict[str, Any]] | None,
    reference: tuple[date, date] | None,
    background: ThreadPoolExecutor,
) -> dict[str, dict[str, Any]]:
    """Each risk-adjusted measure's model: reused from ``models``, else fitted on a sample
    pulled from the engine. A measure without both outcomes in its window gets none.

    Each fit runs on ``background`` while the engine pulls the next measure's sample."""
    window = f"{reference[0]} to {reference[1]}" if reference else "all data"
    fits: dict[str, dict[str, Any] | Future[dict[str, Any]]] = {}
    for mid, m in measures.items():
        if not m.risk_model:
            continue
        if models and mid in models:
            fits[mid] = models[mid]
            continue
        fit_rows = _fit_frame(ctx, m, reference)
        if len(fit_rows) == 0 or fit_rows["outcome"].nunique() < 2:
            continue
        fits[mid] = background.submit(_fit_one, fit_rows, mid, window)
    return {mid: f.result() if isinstance(f, Future) else f for mid, f in fits.items()}


def _fit_one(fit_rows: pd.DataFrame, measure_id: str, window: str) -> dict[str, Any]:
    model = risk.fit(fit_rows, measure_id, window=window)
    model["n_reference"] = int(fit_rows.attrs["n_reference"])
    return model


def _model_cards(
    long: ir.Table, fitted: dict[str, dict[str, Any]], background: ThreadPoolExecutor
) -> dict[str, Future[dict[str, Any]]]:
    """A model card per fitted model from the population's (outcome, expected) in the long
    table, computed on ``background`` (the results step does not need them). No ordering is
    needed (the card's statistics do not depend on row order), which spares sorting a million
    stay ids per model."""
    cards = {}
    for mid, model in fitted.items():
        pop = long.filter((long.measure_id == mid) & long.in_population & ~long.excluded)
        yp = pop.select("outcome", "expected").to_pyarrow().to_pandas()
        cards[mid] = background.submit(risk.model_card, yp, model, yp["expected"].to_numpy(float))
    return cards


def _reference_rates(agg: pd.DataFrame, fitted: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The model's reference rate, else the system's overall rate (LOS: mean days)."""
    system = agg[(agg["level"] == "system") & (agg["period_type"] == "year")]
    totals = system.groupby("measure_id")[["numerator", "denominator"]].sum()
    rates: dict[str, float] = {}
    for mid, r in totals.iterrows():
        if r["denominator"]:
            rates[str(mid)] = float(r["numerator"] / r["denominator"])
    for mid, model in fitted.items():
        rates[mid] = float(model["reference_rate"])
    return rates


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
