"""ICU mortality compared only with ICUs: IMORT's unit-level rows for intensive care units.

IMORT counts a stay at every ward-level unit it passed through (core__stay_unit), so an ICU's
IMORT is hospital mortality among the stays with ICU time (the SCCM/ANZICS and APACHE IV
convention: Zimmerman JE, et al. Crit Care Med 2006;34:1297-310). Scored with the
hospital-wide model, which has no severity of illness, every ICU looks worse than expected
(O/E 1.5-2.8 on the demo). Here a separate logistic model is fitted on the IMORT population's
stays with ICU time only, so an ICU is compared with ICUs. Its covariates are the hospital-wide
ones (age band, sex, emergency admission, principal-diagnosis body system, Elixhauser
comorbidities present on admission; :mod:`cmo.measures.risk`) plus severity markers that a
FHIR export carries, after the APACHE IV / SAPS 3 variable sets (Zimmerman 2006; Moreno RP, et
al. Intensive Care Med 2005;31:1345-55) as far as FHIR holds them:

- ``ventilated``: mechanical ventilation during the stay (ICD-10-PCS 5A1935Z, 5A1945Z,
  5A1955Z; APACHE IV: ventilated on ICU day 1 - the stay-level code cannot tell the day);
- ``vasopressor``: vasopressor infusion (ICD-10-PCS 3E030XZ, 3E033XZ, 3E043XZ, 3E053XZ,
  3E063XZ: "introduction of vasopressor"; SAPS 3 box II);
- ``admit_ed`` / ``admit_transfer``: admitted through the emergency department (admitSource
  ``emd``) or from another hospital (``hosp-trans``; APACHE IV and SAPS 3 ICU admission source);
- ``low_hb``: haemoglobin (LOINC 718-7) below 10 g/dL in the first 24 h (APACHE II scores a
  haematocrit below 30%, about haemoglobin 10 g/dL: Knaus WA, et al. Crit Care Med
  1985;13:818-29);
- ``abnormal_na``: sodium (LOINC 2951-2) below 130 or at least 150 mmol/L in the first 24 h
  (the APACHE II sodium ranges that score points).

A marker is kept only when at least ``risk.MIN_FLAG_COUNT`` ICU stays carry it with both
outcomes (so vasopressors drop out where no source codes them). The model is frozen and
versioned as ``IMORT/ICU`` in quality__reference_model like the others
(:mod:`cmo.measures.reference`); the ICU rows' expected deaths come from it, the
risk-standardised rate is O/E x the ICU population's reference rate, and the control-chart
and funnel signals of the ICU units are read off these rows.

Where we differ: APACHE IV uses the worst physiology of ICU day 1 and ICU admission diagnosis;
a FHIR export rarely holds either, so this is a comparison among ICUs of like case mix and
the severity markers above, not an APACHE score.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from cmo.measures import risk
from cmo.measures.spec import LONG_SCHEMA

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

MEASURE = "IMORT"
KEY = "IMORT/ICU"
EXTRAS = ("ventilated", "vasopressor", "admit_ed", "admit_transfer", "low_hb", "abnormal_na")
ICU_ROLE = "ICU"  # v3-RoleCode ICU on Location.type
VENTILATION_PCS = ("5A1935Z", "5A1945Z", "5A1955Z")
VASOPRESSOR_PCS = ("3E030XZ", "3E033XZ", "3E043XZ", "3E053XZ", "3E063XZ")
HB_LOINC = "718-7"
NA_LOINC = "2951-2"
LOW_HB = 10.0
LOW_NA, HIGH_NA = 130.0, 150.0


def icu_units(ctx: Context) -> list[str]:
    """Unit ids of core__stay_unit that are ICUs (Location.type v3-RoleCode ``ICU``)."""
    return unit_ids(ctx.wh)


def unit_ids(wh: Any) -> list[str]:
    """:func:`icu_units` of a warehouse (the signals step has no build context)."""
    if not (wh.exists("core__stay_unit") and wh.exists("fhir__location")):
        return []
    loc = wh.table("fhir__location")
    if "type_code" not in loc.columns:
        return []
    ids = loc.filter(loc.type_code == ICU_ROLE).select(unit_id=loc.id)
    su = wh.table("core__stay_unit").select("unit_id").distinct()
    return sorted(su.semi_join(ids, "unit_id").unit_id.to_pyarrow().to_pylist())


def severity(ctx: Context) -> ir.Table:
    """Per stay: the severity markers (booleans) described in the module docstring."""
    s = ctx.stays.select("stay_id", "admit_ts", "admit_source")
    pr = ctx.procedures
    codes = pr.mutate(code=pr.code.upper().replace(".", ""))
    vent = codes.filter(codes.code.isin(VENTILATION_PCS)).select("stay_id").distinct()
    vaso = codes.filter(codes.code.isin(VASOPRESSOR_PCS)).select("stay_id").distinct()
    t = s.left_join(vent.mutate(ventilated=ibis.literal(True)), "stay_id").drop("stay_id_right")
    t = t.left_join(vaso.mutate(vasopressor=ibis.literal(True)), "stay_id").drop("stay_id_right")
    labs = _first_day_labs(ctx, s)
    if labs is not None:
        t = t.left_join(labs, "stay_id").drop("stay_id_right")
    else:
        t = t.mutate(low_hb=ibis.literal(False), abnormal_na=ibis.literal(False))
    return t.select(
        "stay_id",
        ventilated=t.ventilated.fill_null(False),
        vasopressor=t.vasopressor.fill_null(False),
        admit_ed=(t.admit_source == "emd").fill_null(False),
        admit_transfer=(t.admit_source == "hosp-trans").fill_null(False),
        low_hb=t.low_hb.fill_null(False),
        abnormal_na=t.abnormal_na.fill_null(False),
    )


def _first_day_labs(ctx: Context, stays: ir.Table) -> ir.Table | None:
    """low_hb / abnormal_na from laboratory Observations of the stay's first 24 hours."""
    wh = ctx.wh
    if not wh.exists("fhir__observation"):
        return None
    ob = wh.table("fhir__observation")
    need = {"encounter_id", "code_code", "value_quantity_value", "effective_date_time_ts"}
    if not need <= set(ob.columns):
        return None
    ob = ob.filter(
        ob.code_code.isin((HB_LOINC, NA_LOINC))
        & ob.value_quantity_value.notnull()
        & (ob.status.isnull() | ~ob.status.isin(("entered-in-error", "cancelled")))
    )
    t = ob.join(stays, ob.encounter_id == stays.stay_id)
    hours = (t.effective_date_time_ts.epoch_seconds() - t.admit_ts.epoch_seconds()) / 3600.0
    t = t.filter((hours >= -6) & (hours <= 24))  # drawn in the ED shortly before admission too
    v = t.value_quantity_value
    return t.group_by("stay_id").aggregate(
        low_hb=((t.code_code == HB_LOINC) & (v < LOW_HB)).any(),
        abnormal_na=((t.code_code == NA_LOINC) & ((v < LOW_NA) | (v >= HIGH_NA))).any(),
    )


def icu_frame(ctx: Context, long: ir.Table, units: list[str], scoring: ir.Table) -> pd.DataFrame:
    """IMORT's population rows once per ICU the stay passed through (unit_id = the ICU), with
    the hospital-wide covariates (``scoring``: stays with age, sex, priority, principal_dx,
    el_*) and the severity markers, sorted by stay and unit."""
    rows = long.filter((long.measure_id == MEASURE) & long.in_population)
    su = ctx.wh.table("core__stay_unit")
    su = su.filter(su.unit_id.isin(units)).select("stay_id", _icu=su.unit_id)
    t = rows.join(su, "stay_id")
    t = t.mutate(unit_id=t._icu).drop("_icu")
    t = t.join(scoring, "stay_id").join(severity(ctx), "stay_id")
    frame: pd.DataFrame = t.order_by(["stay_id", "unit_id"]).to_pandas()
    return frame


def fit(frame: pd.DataFrame, window: tuple[date, date]) -> dict[str, Any] | None:
    """The ICU model on the not-excluded rows discharged within ``window`` (one row per ICU
    stay: a stay in two ICUs is fitted once); None without both outcomes."""
    d = pd.to_datetime(frame["discharge_date"])
    keep = (
        ~frame["excluded"].astype(bool)
        & (d >= pd.Timestamp(window[0]))
        & (d <= pd.Timestamp(window[1]))
    )
    rows = frame[keep].drop_duplicates("stay_id")
    if len(rows) == 0 or rows["outcome"].nunique() < 2:
        return None
    model = risk.fit(rows, KEY, window=f"{window[0]} to {window[1]}", extras=EXTRAS)
    model["n_reference"] = int(len(rows))
    return model


def score(frame: pd.DataFrame, model: dict[str, Any]) -> pd.DataFrame:
    """The frame's rows in the long contract with ``expected`` from the ICU model (null for
    excluded rows, as in the long table)."""
    out = frame.copy()
    p = risk.predict(out, model) if len(out) else np.array([], float)
    out["expected"] = np.where(out["excluded"].astype(bool), np.nan, p)
    return out[list(LONG_SCHEMA)]


def unit_results(
    scored: pd.DataFrame,
    measure: Any,
    reference_rate: float,
    names: dict[str, dict[str, str]],
) -> pd.DataFrame:
    """Result rows (level ``unit``) of the ICU units from the ICU-scored rows, through the same
    aggregation as every result (:mod:`cmo.measures.results`)."""
    from cmo.measures import results as res

    table = ibis.memtable(scored, schema=ibis.schema(LONG_SCHEMA))
    counts = res.count_rows(table)
    agg = res.aggregate(counts)
    final = res.finish(
        agg, {MEASURE: measure}, {MEASURE: reference_rate}, names, res.unit_sites(counts)
    )
    out: pd.DataFrame = final[final["level"] == "unit"].reset_index(drop=True)
    return out


def replace_unit_rows(final: pd.DataFrame, icu: pd.DataFrame, units: list[str]) -> pd.DataFrame:
    """``final`` with IMORT's unit rows of the ICUs replaced by ``icu``."""
    drop = (
        (final["measure_id"] == MEASURE) & (final["level"] == "unit") & final["unit_id"].isin(units)
    )
    return pd.concat([final[~drop], icu[final.columns]], ignore_index=True)
