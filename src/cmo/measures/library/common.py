"""Helpers the measure modules share: the long-row skeleton, code-table flags, episodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd
from ibis import _

from cmo import terminology
from cmo.measures.spec import ATTRIBUTION_RULES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

ADULT_AGE = 18


def code_table(tables: dict[str, str]) -> ir.Table:
    """(``_flag_code``, one boolean column per flag): the distinct codes of the named
    ``cmo.terminology.pra_codes`` tables, each flagged with the tables it is in."""
    codes = sorted(set().union(*[terminology.pra_codes(t) for t in tables.values()]))
    frame = pd.DataFrame({"_flag_code": codes})
    for flag, table in tables.items():
        frame[flag] = frame["_flag_code"].isin(terminology.pra_codes(table))
    schema = {"_flag_code": "string", **{flag: "boolean" for flag in tables}}
    return ibis.memtable(frame, schema=ibis.schema(schema))


def code_flags(t: ir.Table, column: str, tables: dict[str, str]) -> ir.Table:
    """``t`` with one boolean column per flag: is ``t[column]`` (an undotted code) in the
    flag's table (exact code match, see :func:`code_table`)."""
    flags = code_table(tables)
    j = t.left_join(flags, t[column] == flags._flag_code)
    return j.mutate(**{name: j[name].fill_null(False) for name in tables}).drop("_flag_code")


def reason(*branches: tuple[Any, str]) -> ir.StringValue:
    """The first exclusion that applies, or null."""
    return ibis.cases(
        *[(cond.fill_null(False), name) for cond, name in branches], else_=ibis.null("string")
    )


def skeleton(
    measure_id: str, t: ir.Table, attribution: str = "attending_at_discharge", **cols: Any
) -> ir.Table:
    """The long-row columns every measure shares; ``cols`` adds/overrides the rest.
    ``practitioner_id`` follows the measure's attribution rule (``ATTRIBUTION_RULES``)."""
    base = {
        "measure_id": ibis.literal(measure_id),
        "stay_id": t.stay_id,
        "patient_id": t.patient_id,
        "period_month": t.discharge_date.truncate("M").cast("date"),
        "discharge_date": t.discharge_date,
        "site_id": t.site_id,
        "department_id": t.department_id,
        "unit_id": t.unit_id,
        "practitioner_id": t[ATTRIBUTION_RULES[attribution]],
    }
    base.update(cols)
    if "exclusion_reason" in base and "excluded" not in base:
        base["excluded"] = base["exclusion_reason"].notnull()
    return t.select(**base)


# The stay columns the episode readers use (READM30's index stays, MORT30, IMORT; LACE reads
# READM30's index stays): the long-row skeleton's, the exclusion tests' and those
# :func:`episode_table` aggregates. Copying the other stay columns (code lists, admission
# source, raw dispositions, ...) into the scratch table only cost write time.
EPISODE_STAY_COLUMNS = (
    "stay_id",
    "patient_id",
    "site_id",
    "department_id",
    "unit_id",
    *sorted(set(ATTRIBUTION_RULES.values())),
    "admit_date",
    "discharge_date",
    "discharge_ts",
    "los_days",
    "priority_code",
    "disposition_category",
    "acute",
    "age",
    "principal_dx",
    "died_in_hospital",
    "vital_status_conflict",
    "death_date",
    "transfer_in",
    "transfer_out",
)
# Read by :func:`episode_table` only.
_CHAIN_COLUMNS = ("chain_id", "chain_size", "chain_last")


def episodes(ctx: Context) -> ir.Table:
    """Stays with their transfer chain's outcome (see :func:`episode_table`), materialised once
    per build: four measures read it. Only ``EPISODE_STAY_COLUMNS`` of the stay are kept."""
    return ctx.shared("episode", lambda: _episode_expr(ctx))


def _episode_expr(ctx: Context) -> ir.Table:
    s = ctx.stays.select(*EPISODE_STAY_COLUMNS, *_CHAIN_COLUMNS)
    return episode_table(s).drop(*_CHAIN_COLUMNS)


def episode_table(s: ir.Table) -> ir.Table:
    """Stays with their transfer chain's outcome: did the patient die in any stay of the chain.

    Adds ``chain_died`` (bool), ``chain_death_date`` (date of death, or of the discharge of the
    stay that ended in death), ``chain_admit_date`` (first admission of the chain),
    ``chain_last_discharge_date``, ``chain_last_alive``, ``chain_ama`` (a stay of the chain
    ended against medical advice) and ``chain_conflict`` (a stay of the chain has a vital
    status conflict). Only chains of several stays are
    aggregated (a one-stay chain's values are its own): at 1M stays nearly every chain is a
    single stay, and grouping them all by chain id cost most of this table.
    """
    multi = s.filter(s.chain_size > 1)
    per_chain = (
        multi.select(_c=multi.chain_id, **_own_chain_values(multi))
        .group_by("_c")
        .aggregate(
            _m_chain_died=_.chain_died.any(),
            _m_chain_death_date=_.chain_death_date.min(),
            _m_chain_admit_date=_.chain_admit_date.min(),
            _m_chain_last_discharge_date=_.chain_last_discharge_date.max(),
            _m_chain_last_alive=_.chain_last_alive.any(),
            _m_chain_ama=_.chain_ama.any(),
            _m_chain_conflict=_.chain_conflict.any(),
        )
    )
    t = s.left_join(per_chain, s.chain_id == per_chain._c)
    own = _own_chain_values(t)
    return t.mutate(
        **{
            name: ibis.cases((t.chain_size <= 1, v), else_=t[f"_m_{name}"])
            for name, v in own.items()
        }
    ).drop("_c", *[f"_m_{name}" for name in own])


def _own_chain_values(s: ir.Table) -> dict[str, Any]:
    """A stay's contribution to its chain's values (the whole value for a one-stay chain)."""
    death_day = ibis.coalesce(s.death_date, s.discharge_date)
    return {
        "chain_died": s.died_in_hospital,
        "chain_death_date": ibis.cases((s.died_in_hospital, death_day), else_=ibis.null("date")),
        "chain_admit_date": s.admit_date,
        "chain_last_discharge_date": s.discharge_date,
        "chain_last_alive": ibis.cases(
            (s.chain_last, ~s.died_in_hospital), else_=ibis.null("boolean")
        ),
        "chain_ama": (s.disposition_category == terminology.AMA).fill_null(False),
        "chain_conflict": s.vital_status_conflict,
    }


def with_mdc(ctx: Context, t: ir.Table) -> ir.Table:
    """``t`` with the MS-DRG's MDC of each stay (``mdc``; null when the stay was not grouped)."""
    drg = ctx.drg.select(_mdc_stay=ctx.drg.stay_id, mdc=ctx.drg.mdc)
    return t.left_join(drg, t.stay_id == drg._mdc_stay).drop("_mdc_stay")


# MDC 14 (pregnancy, childbirth and the puerperium) and MDC 15 (newborns and other neonates with
# conditions originating in the perinatal period), CMS MS-DRG definitions manual.
OBSTETRIC_MDC = "14"
NEONATAL_MDC = "15"


def procedure_flags(ctx: Context) -> ir.Table:
    """Per stay: any procedure at all, any always-planned (PRA v4.0 table PR1) and any
    potentially planned (table PR3) procedure."""
    p = code_flags(
        ctx.procedures,
        "code",
        {"_always": "PR1_always_planned_pcs", "_potential": "PR3_potentially_planned_pcs"},
    )
    return p.group_by("stay_id").aggregate(
        any_procedure=p.code.notnull().any(),
        always_planned_proc=p._always.any(),
        potentially_planned_proc=p._potential.any(),
    )
