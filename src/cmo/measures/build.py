"""``cmo measures run``: build the core tables, every registered measure, models and results.

Steps (each timed into ``quality__build_run``):
1. ``stays``: core__stay_diagnosis, core__stay_procedure, core__inpatient_stay (with chains),
   core__stay_unit (unit exposure);
2. ``comorbidity``: core__comorbidity (Charlson/Elixhauser per stay);
3. ``drg``: core__drg (MS-DRG, weight, GMLOS; only changed stays are grouped again);
4. ``long``: every measure's patient-level rows;
5. ``risk``: logistic models fitted once (or taken from ``models``), predictions joined back;
6. ``results``: quality__measure_result (period x level x unit);
7. ``signals``: quality__signal (control charts and funnels, ``cmo.stats``);
8. ``metadata``: quality__measure, quality__model_card, quality__build_run.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures import core, drg, risk
from cmo.measures import results as res
from cmo.measures.spec import LONG_SCHEMA, Context, Measure, registry

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

STEPS = ("stays", "comorbidity", "drg", "long", "risk", "results", "signals", "metadata")


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


def _scratch(wh: Warehouse, name: str, obj: Any) -> ir.Table:
    """An intermediate table read several times within the build. On DuckDB a TEMP table (in
    memory, never written to the file: at 1M stays writing to the file is most of the cost of
    these 3M-row tables); on Spark a normal table, where a cached DataFrame would not survive
    Ibis' queries."""
    if wh.engine == "duckdb":
        for _ in range(2):  # a temp copy of this build, then a file copy of an older build
            if wh.exists(name):
                wh.con.drop_table(name, force=True)
        wh.con.create_table(name, obj, temp=True, overwrite=True)
        return wh.con.table(name)
    wh.write(name, obj)
    return wh.table(name)


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
        with steps.step("long"):
            # Only the risk-adjusted measures' rows are materialised before the risk step
            # (the models read them several times); the others go straight to the long table.
            risky = [m for m in measures.values() if m.risk_model]
            plain = [m for m in measures.values() if not m.risk_model]
            base = ibis.union(*[_long(m, ctx) for m in risky]) if risky else None
            base_t = _scratch(wh, "core__measure_base", base) if base is not None else None
            if base_t is not None:
                out.rows["core__measure_base"] = int(base_t.count().execute())
        with steps.step("risk"):
            pred: ir.Table | None = None
            cards: dict[str, dict[str, Any]] = {}
            if base_t is not None:
                cards, pred = _risk(ctx, base_t, measures, models, reference)
            out.models = {mid: card["model"] for mid, card in cards.items()}
            parts = (
                [_with_expected(base_t, pred)] if base_t is not None and pred is not None else []
            )
            parts += [_long(m, ctx) for m in plain]
            long = ibis.union(*parts)
            out.rows["quality__measure_long"] = _write(wh, "quality__measure_long", long)
        long = wh.table("quality__measure_long")
        with steps.step("results"):
            exposure = wh.table("core__stay_unit")
            agg = res.aggregate(long, exposure)
            ref_rates = _reference_rates(agg, cards)
            sites = res.unit_sites(long, exposure)
            final = res.finish(agg, measures, ref_rates, res.unit_names(wh), sites)
            out.rows["quality__measure_result"] = _write(
                wh, "quality__measure_result", final, RESULT_SCHEMA
            )
        with steps.step("signals"):
            sig = pd.concat(
                [res.signals(final, measures, end), res.cusum_signals(long, final, measures)],
                ignore_index=True,
            )
            out.rows["quality__signal"] = _write(wh, "quality__signal", sig, SIGNAL_SCHEMA)
        with steps.step("metadata"):
            spec_rows = pd.DataFrame([m.spec.row() for m in measures.values()])
            out.rows["quality__measure"] = _write(wh, "quality__measure", spec_rows, MEASURE_SCHEMA)
            card_rows = pd.DataFrame(
                [
                    {"measure_id": mid, "built_at": started, "card_json": json.dumps(card)}
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


def _long(m: Measure, ctx: Context) -> ir.Table:
    """A measure's long rows in the contract's column order and types."""
    t = m.long(ctx)
    cols = {}
    for name, typ in LONG_SCHEMA.items():
        cols[name] = t[name].cast(typ) if name in t.columns else ibis.null(typ)
    return t.select(**cols)


def _scoring_table(ctx: Context) -> ir.Table:
    """Every stay with the raw model covariates (stays joined to comorbidity)."""
    from cmo import terminology

    s = ctx.stays.select("stay_id", "age", "sex", "priority", "principal_dx")
    flags = [f"el_{c}" for c in terminology.categories("elixhauser")]
    return s.join(ctx.comorbidity.select("stay_id", *flags), "stay_id")


def _fit_frame(
    scoring: ir.Table, pop: ir.Table, reference: tuple[date, date] | None
) -> pd.DataFrame:
    """The rows a model is fitted on: the reference window, every k-th stay by id when the
    window holds more than ``risk.MAX_FIT_ROWS`` (a deterministic sample, the same on any
    engine)."""
    rows = pop
    if reference is not None:
        rows = rows.filter(rows.discharge_date.between(reference[0], reference[1]))
    n = int(rows.count().execute())
    t = rows.select("stay_id", "outcome").join(scoring, "stay_id")
    if n > risk.MAX_FIT_ROWS:
        step = -(-n // risk.MAX_FIT_ROWS)
        t = t.mutate(_rn=ibis.row_number().over(order_by="stay_id"))
        t = t.filter(t._rn % step == 0).drop("_rn")
    frame = t.order_by("stay_id").to_pandas()
    frame.attrs["n_reference"] = n
    return frame


def _risk(
    ctx: Context,
    base: ir.Table,
    measures: dict[str, Measure],
    models: dict[str, dict[str, Any]] | None,
    reference: tuple[date, date] | None,
) -> tuple[dict[str, dict[str, Any]], ir.Table]:
    """Fit (or reuse) each risk model on a pulled sample, score every stay in the engine into
    core__risk_prediction (returned); the model card reads back only (outcome, p)."""
    cards: dict[str, dict[str, Any]] = {}
    scoring = _scoring_table(ctx)
    parts = []
    for mid, m in measures.items():
        if not m.risk_model:
            continue
        pop = base.filter((base.measure_id == mid) & base.in_population & ~base.excluded)
        if models and mid in models:
            model = models[mid]
        else:
            fit_rows = _fit_frame(scoring, pop, reference)
            if len(fit_rows) == 0 or fit_rows["outcome"].nunique() < 2:
                continue
            window = f"{reference[0]} to {reference[1]}" if reference else "all data"
            model = risk.fit(fit_rows, mid, window=window)
            model["n_reference"] = int(fit_rows.attrs["n_reference"])
        scored = pop.select("stay_id").join(scoring, "stay_id")
        parts.append(
            scored.select(
                measure_id=ibis.literal(mid),
                stay_id=scored.stay_id,
                p=risk.probability(scored, model),
            )
        )
        cards[mid] = model
    if parts:
        pred = _scratch(ctx.wh, "core__risk_prediction", ibis.union(*parts))
    else:
        empty = pd.DataFrame({"measure_id": [], "stay_id": [], "p": []})
        schema = ibis.schema({"measure_id": "string", "stay_id": "string", "p": "float64"})
        pred = _scratch(ctx.wh, "core__risk_prediction", ibis.memtable(empty, schema=schema))
    for mid, model in list(cards.items()):
        pop = base.filter((base.measure_id == mid) & base.in_population & ~base.excluded)
        yp = (
            pop.select("stay_id", "outcome")
            .join(pred.filter(pred.measure_id == mid), "stay_id")
            .order_by("stay_id")
            .to_pandas()
        )
        cards[mid] = risk.model_card(yp, model, yp["p"].to_numpy(float))
    return cards, pred


def _with_expected(base: ir.Table, pred: ir.Table) -> ir.Table:
    t = base.left_join(pred, ["measure_id", "stay_id"])
    cols = {name: t[name] for name in LONG_SCHEMA if name != "expected"}
    cols["expected"] = ibis.coalesce(t.p, t.expected)
    # Same types as _long's output, so the union with the other measures is exact on any engine.
    return t.select(**{name: cols[name].cast(typ) for name, typ in LONG_SCHEMA.items()})


def _reference_rates(agg: pd.DataFrame, cards: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The model's reference rate, else the system's overall rate (LOS: mean days)."""
    system = agg[(agg["level"] == "system") & (agg["period_type"] == "year")]
    totals = system.groupby("measure_id")[["numerator", "denominator"]].sum()
    rates: dict[str, float] = {}
    for mid, r in totals.iterrows():
        if r["denominator"]:
            rates[str(mid)] = float(r["numerator"] / r["denominator"])
    for mid, card in cards.items():
        rates[mid] = float(card["model"]["reference_rate"])
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
