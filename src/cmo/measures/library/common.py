"""Helpers the measure modules share: the long-row skeleton, code-prefix tests, episodes."""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any

import ibis

from cmo import terminology

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

ADULT_AGE = 18


def matches(col: ir.StringValue, value_set: str) -> ir.BooleanValue:
    """True when the undotted code starts with one of the value set's prefixes."""
    prefixes = terminology.value_set(value_set)
    return functools.reduce(operator.or_, [col.startswith(p) for p in prefixes]).fill_null(False)


def reason(*branches: tuple[Any, str]) -> ir.StringValue:
    """The first exclusion that applies, or null."""
    return ibis.cases(
        *[(cond.fill_null(False), name) for cond, name in branches], else_=ibis.null("string")
    )


def skeleton(measure_id: str, t: ir.Table, **cols: Any) -> ir.Table:
    """The long-row columns every measure shares; ``cols`` adds/overrides the rest."""
    base = {
        "measure_id": ibis.literal(measure_id),
        "stay_id": t.stay_id,
        "patient_id": t.patient_id,
        "period_month": t.discharge_date.truncate("M").cast("date"),
        "discharge_date": t.discharge_date,
        "site_id": t.site_id,
        "department_id": t.department_id,
        "unit_id": t.unit_id,
        "practitioner_id": t.attending_id,
    }
    base.update(cols)
    if "exclusion_reason" in base and "excluded" not in base:
        base["excluded"] = base["exclusion_reason"].notnull()
    return t.select(**base)


def episodes(ctx: Context) -> ir.Table:
    """Stays with their transfer chain's outcome: did the patient die in any stay of the chain.

    Adds ``chain_died`` (bool), ``chain_death_date`` (date of death, or of the discharge of the
    stay that ended in death), ``chain_admit_date`` (first admission of the chain) and
    ``chain_last_discharge_date``.
    """
    s = ctx.stays
    death_day = ibis.coalesce(s.death_date, s.discharge_date)
    per_chain = s.group_by("chain_id").aggregate(
        chain_died=s.died_in_hospital.any(),
        chain_death_date=ibis.cases((s.died_in_hospital, death_day), else_=ibis.null("date")).min(),
        chain_admit_date=s.admit_date.min(),
        chain_last_discharge_date=s.discharge_date.max(),
        chain_last_alive=ibis.cases(
            (s.chain_last, ~s.died_in_hospital), else_=ibis.null("boolean")
        ).any(),
    )
    return s.join(per_chain, "chain_id")


def procedure_flags(ctx: Context) -> ir.Table:
    """Per stay: any procedure at all, any always-planned and any potentially planned procedure."""
    p = ctx.procedures
    return p.group_by("stay_id").aggregate(
        any_procedure=p.code.notnull().any(),
        always_planned_proc=matches(p.code, "planned_always_pcs").any(),
        potentially_planned_proc=matches(p.code, "planned_potential_pcs").any(),
    )
