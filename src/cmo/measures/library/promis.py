"""PROMIS Global Health (PROMIS-10) before and after elective joint replacement: the shared
stages of the four patient-reported outcome measures (no ``MEASURE`` here; the measures are
``promis_gph``, ``promis_gmh``, ``promis_gph_mid``, ``promis_gmh_mid``).

Scoring: HealthMeasures, *PROMIS Global Health Scoring Manual* (PROMIS Scale v1.2 - Global
Health); Hays RD, Bjorner JB, Revicki DA, Spritzer KL, Cella D. Development of physical and
mental health summary scores from the PROMIS global items. Qual Life Res 2009;18:873-80.
Global Physical Health (GPH) raw score = Global03 + Global06 + Global07 (pain 0-10 recoded
0 -> 5, 1-3 -> 4, 4-6 -> 3, 7-9 -> 2, 10 -> 1) + Global08 (fatigue, reversed); Global Mental
Health (GMH) = Global02 + Global04 + Global05 + Global10 (emotional problems, reversed); each
raw score 4-20 is converted to a T-score (mean 50, SD 10 in the US general population) by the
manual's table (``data/promis_global10_tscores.csv``). A scale with a missing or out-of-range
item is not scored (the manual's tables assume every item answered). v1.2's pre-reversed items
(Global07r, Global08r, Global10r) are read as such.

Measure: adults with an elective hip or knee replacement (ICD-10-PCS 0SR9, 0SRA, 0SRB, 0SRE,
0SRR, 0SRS hip; 0SRC, 0SRD, 0SRT, 0SRU, 0SRV, 0SRW knee; Encounter.priority elective) whose
follow-up window has closed; baseline = the latest survey in the 90 days before admission,
follow-up = the first survey 60-120 days after discharge (CMS THA/TKA PRO-PM collects the
pre-operative survey in the 90 days before surgery; the 3-month follow-up is the ICHOM hip and
knee osteoarthritis set's first time point). Outcome = follow-up minus baseline T-score (higher
is better), or 1 when the gain reaches the minimal important difference of 5 T-score points
(half a standard deviation: Norman GR, Sloan JA, Wyrwich KW. Interpretation of changes in
health-related quality of life: the remarkable universality of half a standard deviation. Med
Care 2003;41:582-92). A patient without both surveys stays in the population with no outcome
and exposure 0 (responders have exposure 1): results carry the response rate = exposure /
denominator beside every mean or share, which is over responders only.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cmo.measures.core import memtable
from cmo.measures.library.common import reason, skeleton

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.measures.spec import Context

JOINT_PCS: tuple[str, ...] = (
    "0SR9",
    "0SRA",
    "0SRB",
    "0SRE",
    "0SRR",
    "0SRS",
    "0SRC",
    "0SRD",
    "0SRT",
    "0SRU",
    "0SRV",
    "0SRW",
)
PRE_DAYS = 90
POST_WINDOW = (60, 120)
MID = 5.0  # T-score points: half a standard deviation (Norman 2003)
ITEMS: tuple[str, ...] = (
    "Global02",
    "Global03",
    "Global04",
    "Global05",
    "Global06",
    "Global07",
    "Global08",
    "Global10",
    "Global07r",
    "Global08r",
    "Global10r",
)
COMPLETED = ("completed", "amended")


def t_score_table() -> pd.DataFrame:
    """(scale GPH/GMH, raw 4-20, t_score, se): the manual's raw-score-to-T-score tables."""
    path = resources.files("cmo.measures.library") / "data" / "promis_global10_tscores.csv"
    with resources.as_file(path) as p:
        return pd.read_csv(p)


def _answers(ctx: Context) -> ir.Table:
    """One row per completed QuestionnaireResponse with its PROMIS-10 items as columns."""
    wh = ctx.wh
    if not (
        wh.exists("fhir__questionnaire_response") and wh.exists("fhir__questionnaire_response_item")
    ):
        schema = {"qr_id": "string", "patient_id": "string", "authored": "timestamp"}
        schema |= {i: "float64" for i in ITEMS}
        return memtable(pd.DataFrame({c: pd.Series([], dtype="object") for c in schema}), schema)
    qr = wh.table("fhir__questionnaire_response")
    qr = qr.filter(qr.status.isin(COMPLETED)).select(
        qr_id=qr.id, patient_id=qr.subject_id, authored=qr.authored_ts
    )
    it = wh.table("fhir__questionnaire_response_item")
    value = ibis.coalesce(it.answer_integer.cast("float64"), it.answer_decimal.cast("float64"))
    it = it.filter(it.link_id.isin(ITEMS)).select(
        qr_id=it.questionnaire_response_id, link_id=it.link_id, value=value
    )
    wide = it.group_by("qr_id").aggregate(
        **{
            i: ibis.cases((it.link_id == i, it.value), else_=ibis.null("float64")).max()
            for i in ITEMS
        }
    )
    return qr.join(wide, "qr_id")


def _in(v: Any, lo: int, hi: int) -> Any:
    return ibis.cases(((v >= lo) & (v <= hi) & (v == v.round()), v), else_=ibis.null("float64"))


def scores(ctx: Context) -> ir.Table:
    """(qr_id, patient_id, authored, gph, gmh): T-scores of each response (null when a scale
    cannot be scored)."""
    a = _answers(ctx)
    pain = ibis.coalesce(_in(a.Global07, 0, 10), _in(a.Global07r, 0, 10))
    pain5 = ibis.cases(
        (pain == 0, 5.0),
        (pain <= 3, 4.0),
        (pain <= 6, 3.0),
        (pain <= 9, 2.0),
        (pain == 10, 1.0),
        else_=ibis.null("float64"),
    )
    fatigue = ibis.coalesce(6 - _in(a.Global08, 1, 5), _in(a.Global08r, 1, 5))
    emotional = ibis.coalesce(6 - _in(a.Global10, 1, 5), _in(a.Global10r, 1, 5))
    t = a.select(
        "qr_id",
        "patient_id",
        "authored",
        gph_raw=(_in(a.Global03, 1, 5) + _in(a.Global06, 1, 5) + pain5 + fatigue).cast("int64"),
        gmh_raw=(
            _in(a.Global02, 1, 5) + _in(a.Global04, 1, 5) + _in(a.Global05, 1, 5) + emotional
        ).cast("int64"),
    )
    table = t_score_table()
    tscore = {}
    for scale in ("gph", "gmh"):
        rows = table[table["scale"] == scale.upper()]
        raw = t[f"{scale}_raw"]
        tscore[scale] = ibis.cases(
            *[(raw == int(r), float(v)) for r, v in zip(rows["raw"], rows["t_score"], strict=True)],
            else_=ibis.null("float64"),
        )
    t = t.mutate(**tscore)
    return t.select("qr_id", "patient_id", "authored", "gph", "gmh")


def pairs(ctx: Context) -> ir.Table:
    """Eligible stays (elective hip/knee replacement) with their baseline and follow-up
    T-scores (``core__promis_pair``, built once per build)."""

    def build() -> ir.Table:
        p = ctx.procedures
        joint = p.filter(p.code.substr(0, 4).isin(JOINT_PCS)).select("stay_id").distinct()
        s = ctx.stays.filter(ctx.stays.priority == "elective").semi_join(joint, "stay_id")
        s = s.select("stay_id", "patient_id", "admit_ts", "admit_date", "discharge_date")
        sc = scores(ctx)
        j = s.join(sc, "patient_id")
        day = j.authored.date()
        pre = j.filter(
            (j.authored <= j.admit_ts) & (day >= j.admit_date - ibis.interval(days=PRE_DAYS))
        )
        pre = pre.mutate(
            _rn=ibis.row_number().over(group_by="stay_id", order_by=ibis.desc("authored"))
        ).filter(ibis._._rn == 0)
        pre = pre.select("stay_id", pre_gph=pre.gph, pre_gmh=pre.gmh, pre_date=pre.authored.date())
        lo, hi = POST_WINDOW
        post = j.filter(
            (day >= j.discharge_date + ibis.interval(days=lo))
            & (day <= j.discharge_date + ibis.interval(days=hi))
        )
        post = post.mutate(
            _rn=ibis.row_number().over(group_by="stay_id", order_by="authored")
        ).filter(ibis._._rn == 0)
        post = post.select(
            "stay_id", post_gph=post.gph, post_gmh=post.gmh, post_date=post.authored.date()
        )
        out = s.select("stay_id").left_join(pre, "stay_id").drop("stay_id_right")
        out = out.left_join(post, "stay_id").drop("stay_id_right")
        return out

    return ctx.shared("promis_pair", build)


def long(ctx: Context, measure_id: str, scale: str, mid: bool) -> ir.Table:
    """Long rows of one PROMIS measure: ``scale`` gph or gmh; ``mid`` = share reaching the
    minimal important difference instead of the mean change."""
    pr = pairs(ctx)
    t = ctx.stays.join(pr, "stay_id")
    change = t[f"post_{scale}"] - t[f"pre_{scale}"]
    responded = change.notnull()
    outcome = (change >= MID).cast("float64") if mid else change
    close = ctx.data_end - timedelta(days=POST_WINDOW[1])
    died = t.death_date.notnull() & (
        t.death_date <= t.discharge_date + ibis.interval(days=POST_WINDOW[1])
    )
    return skeleton(
        measure_id,
        t,
        "operating_surgeon",
        in_population=t.discharge_date <= ibis.literal(close, "date"),
        exclusion_reason=reason(
            (t.age.isnull(), "age_unknown"),
            (t.age < 18, "age_under_18"),
            (died, "died_before_followup"),
        ),
        outcome=ibis.cases((responded, outcome), else_=ibis.null("float64")),
        exposure=responded.cast("float64"),
        evidence_date=ibis.coalesce(t.post_date, t.discharge_date),
    )
