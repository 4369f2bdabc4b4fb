"""Given / when / then: the AHRQ PSI v2024 rules (PSI 03-15), PSI 90 and COMPL.

Given: the patients of :func:`scenario`, each built from a clause of the AHRQ PSI v2024
technical specifications (a numerator case, each exclusion, a secondary diagnosis present on
admission that must not count). When: the real ingest and build on DuckDB (``psi_built``).
Then: the exact long rows (in population, excluded, exclusion reason, outcome).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .testbed import ICD10PCS, TestBed, long_rows

START = date(2024, 3, 4)
DATA_END = "2024-12-31"
HIP = "0SR9019"  # total hip replacement, open: an OR procedure, surgical MS-DRG 470
COLECTOMY = "0DTN0ZZ"  # sigmoid colectomy, open: abdominopelvic, surgical MS-DRG 329-331


def _day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


def add_stay(
    bed: TestBed,
    sid: str,
    *,
    pdx: str,
    sdx: list[tuple[str, str]] = (),  # type: ignore[assignment]
    procs: list[tuple[str, int]] = (),  # type: ignore[assignment]
    los: int = 5,
    priority: str = "EL",
    surgeon: str | None = "pr-a",
    birth: str = "1950-01-01",
) -> str:
    """One adult stay of its own patient: principal ``pdx`` (POA Y), secondary (code, POA)
    diagnoses on the Claim, and procedures on the given days after admission."""
    bed.patient(f"pt-{sid}", birth=birth)
    bed.stay(
        sid,
        f"pt-{sid}",
        _day(0),
        _day(los),
        priority=priority,
        admit_source="gp" if priority == "EL" else "emd",
        dx=[pdx, *[c for c, _ in sdx]],
        claim_dx=[(pdx, "Y"), *sdx],
    )
    for i, (code, day) in enumerate(procs):
        proc: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": f"{sid}-p{i}",
            "status": "completed",
            "code": {"coding": [{"system": ICD10PCS, "code": code}]},
            "subject": {"reference": f"Patient/pt-{sid}"},
            "encounter": {"reference": f"Encounter/{sid}"},
            "performedDateTime": f"{_day(day)}T12:00:00Z",
        }
        if surgeon:
            proc["performer"] = [{"actor": {"reference": f"Practitioner/{surgeon}"}}]
        bed.resources["Procedure"].append(proc)
    return sid


def medical(bed: TestBed, sid: str, sdx: list[tuple[str, str]], **kw: Any) -> str:
    """A pneumonia stay (medical MS-DRG 193-195)."""
    return add_stay(bed, sid, pdx=kw.pop("pdx", "J18.9"), sdx=sdx, priority="EM", **kw)


def hip(bed: TestBed, sid: str, sdx: list[tuple[str, str]], extra=(), day: int = 0, **kw) -> str:
    """An elective total hip replacement on ``day`` (surgical MS-DRG 470)."""
    return add_stay(bed, sid, pdx="M16.11", sdx=sdx, procs=[(HIP, day), *extra], **kw)


def colectomy(bed: TestBed, sid: str, sdx: list[tuple[str, str]], extra=(), **kw) -> str:
    return add_stay(bed, sid, pdx="C18.7", sdx=sdx, procs=[(COLECTOMY, 0), *extra], **kw)


def scenario() -> TestBed:
    bed = TestBed()
    bed.patient("pt-end", birth="1960-01-01")
    bed.ed_visit("ed-end", "pt-end", DATA_END)
    # -- PSI 03 pressure ulcer: medical stays of 5 days -----------------------------------------
    medical(bed, "p03-num", [("L89.153", "N")])  # stage 3 sacral, not POA
    medical(bed, "p03-poa", [("L89.153", "Y")])  # present on admission
    medical(bed, "p03-site", [("L89.153", "Y"), ("L89.313", "N")])  # new ulcer at another site
    medical(bed, "p03-los", [("L89.153", "N")], los=2)
    medical(bed, "p03-burn", [("L89.154", "N"), ("T31.20", "Y")])
    medical(bed, "p03-exfol", [("L89.154", "N"), ("L51.2", "Y")])
    medical(bed, "p03-none", [("E11.9", "Y")])
    # obstetrical tetanus: MDC 14 in AHRQ's own $MDC14PRINDX (not an O code: the rebuild missed it)
    medical(bed, "p03-mdc14", [("L89.153", "N")], pdx="A34")
    # -- PSI 06 iatrogenic pneumothorax -----------------------------------------------------------
    medical(bed, "p06-num", [("J95.811", "N")], procs=[("02HV33Z", 1)])  # after a central line
    medical(bed, "p06-poa", [("J95.811", "Y")])
    medical(bed, "p06-trauma", [("J95.811", "N"), ("S22.31XA", "Y")])
    medical(bed, "p06-effusion", [("J95.811", "N"), ("J90", "Y")])
    medical(bed, "p06-pdx", [("J95.811", "N")], pdx="J93.9")
    # -- PSI 08 in-hospital fall with fracture ---------------------------------------------------
    medical(bed, "p08-hip", [("S72.001A", "N"), ("W19.XXXA", "N")])
    medical(bed, "p08-other", [("S52.501A", "N")])
    medical(bed, "p08-poa", [("S52.501A", "Y")])
    medical(bed, "p08-prosthesis", [("S72.001A", "N"), ("M97.01XA", "N")])
    # -- PSI 09 postoperative hemorrhage or hematoma (surgical, OR procedure) ----------------
    hip(bed, "p09-num", [("M96.810", "N")], extra=[("0W3F0ZZ", 2)])
    hip(bed, "p09-noproc", [("M96.810", "N")])  # no treatment procedure: not a case
    hip(bed, "p09-poa", [("M96.810", "Y")], extra=[("0W3F0ZZ", 2)])
    hip(bed, "p09-before", [("M96.810", "N")], extra=[("0W3F0ZZ", 0)], day=1)
    hip(bed, "p09-coag", [("M96.810", "N"), ("D68.9", "Y")], extra=[("0W3F0ZZ", 2)])
    hip(bed, "p09-lytic", [("M96.810", "N")], extra=[("3E03317", 1), ("0W3F0ZZ", 2)])
    # -- PSI 10 AKI with dialysis (elective surgical) ------------------------------------------
    hip(bed, "p10-num", [("N17.9", "N")], extra=[("5A1D70Z", 2)])
    hip(bed, "p10-poa", [("N17.9", "Y")], extra=[("5A1D70Z", 2)])
    hip(bed, "p10-sameday", [("N17.9", "N")], extra=[("5A1D70Z", 0)])
    hip(bed, "p10-dysrhythmia", [("N17.9", "N"), ("I48.91", "Y")], extra=[("5A1D70Z", 2)])
    hip(bed, "p10-emergency", [("N17.9", "N")], extra=[("5A1D70Z", 2)], priority="EM")
    # AHRQ's own $DIALYIP and $DIALY2P (PQI/MHI v2024 format files): peritoneal dialysis counts;
    # a percutaneous AV fistula (radial artery to lower arm vein) on the OR day excludes
    hip(bed, "p10-peritoneal", [("N17.9", "N")], extra=[("3E1M39Z", 2)])
    hip(bed, "p10-access", [("N17.9", "N")], extra=[("031C3ZF", 0), ("5A1D70Z", 2)])
    # -- PSI 11 postoperative respiratory failure (elective surgical) ---------------------------
    hip(bed, "p11-dx", [("J96.00", "N")])
    hip(bed, "p11-vent96", [("E11.9", "Y")], extra=[("5A1955Z", 0)])
    hip(bed, "p11-vent24-day1", [("E11.9", "Y")], extra=[("5A1945Z", 1)])
    hip(bed, "p11-vent24-day2", [("E11.9", "Y")], extra=[("5A1945Z", 2)])
    hip(bed, "p11-poa", [("J96.00", "Y")])
    hip(bed, "p11-neuromuscular", [("J96.00", "N"), ("G70.00", "Y")])
    # -- PSI 12 perioperative PE/DVT (surgical) -------------------------------------------------
    hip(bed, "p12-pe", [("I26.99", "N")])
    hip(bed, "p12-dvt", [("I82.401", "N")])
    hip(bed, "p12-poa", [("I26.99", "Y")])
    hip(bed, "p12-hit", [("I26.99", "N"), ("D75.829", "N")])
    hip(bed, "p12-late-or", [("I26.99", "N")], day=10, los=14)
    hip(bed, "p12-filter", [("I26.99", "N")], extra=[("06H03DZ", 0)], day=1)
    # -- PSI 13 postoperative sepsis (elective surgical) -----------------------------------------
    hip(bed, "p13-num", [("A41.9", "N")])
    hip(bed, "p13-poa", [("A41.9", "Y")])
    hip(bed, "p13-infection-poa", [("A41.9", "N"), ("L03.115", "Y")])
    hip(bed, "p13-late-or", [("A41.9", "N")], day=10, los=14)
    # -- PSI 14 wound dehiscence (abdominopelvic surgery) -----------------------------------------
    colectomy(bed, "p14-num", [("T81.321A", "N")], extra=[("0WQF0ZZ", 4)], los=8)
    colectomy(bed, "p14-sameday", [("T81.321A", "N")], extra=[("0WQF0ZZ", 0)], los=8)
    colectomy(bed, "p14-poa", [("T81.321A", "Y")], extra=[("0WQF0ZZ", 4)], los=8)
    colectomy(bed, "p14-los", [("T81.321A", "N")], extra=[("0WQF0ZZ", 1)], los=1)
    # -- PSI 15 abdominopelvic accidental puncture or laceration -------------------------------
    colectomy(bed, "p15-num", [("K91.71", "N")], extra=[("0DQN0ZZ", 3)])
    colectomy(bed, "p15-noreop", [("K91.71", "N")])
    colectomy(bed, "p15-poa", [("K91.71", "Y")], extra=[("0DQN0ZZ", 3)])
    # -- COMPL: a surgeon's complication (CMS HAC SSI after hip replacement) -----------------
    hip(bed, "c-ssi", [("T84.51XA", "N")], surgeon="pr-b")
    hip(bed, "c-ssi-poa", [("T84.51XA", "Y")], surgeon="pr-b")
    hip(bed, "c-none", [("E11.9", "Y")], surgeon="pr-b")
    return bed


@pytest.fixture(scope="module")
def psi_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("psi")
    wh = connect(root / "warehouse.duckdb")
    scenario().build(wh, root / "fhir")
    yield wh
    wh.close()


def flags(wh: Any, measure: str, stay: str) -> tuple:
    r = long_rows(wh, measure)[stay]
    return (r["in_population"], r["excluded"], r["exclusion_reason"], r["outcome"])


NUM = (True, False, None, 1.0)
ZERO = (True, False, None, 0.0)


def excluded(why: str, outcome: float) -> tuple:
    return (True, True, why, outcome)


def test_the_test_stays_group_to_the_intended_ms_drg_types(psi_built):
    drg = psi_built.table("core__drg").to_pandas().set_index("stay_id")["drg_type"]
    assert drg["p03-num"] == "M" and drg["p06-num"] == "M"
    assert drg["p09-num"] == "S" and drg["p14-num"] == "S" and drg["p15-num"] == "S"


def test_psi03_pressure_ulcer(psi_built):
    w = psi_built
    assert flags(w, "PSI03", "p03-num") == NUM
    assert flags(w, "PSI03", "p03-poa") == excluded("poa", 0.0)
    assert flags(w, "PSI03", "p03-site") == NUM  # a new ulcer at another site counts
    assert flags(w, "PSI03", "p03-los") == excluded("los_under_3", 1.0)
    assert flags(w, "PSI03", "p03-burn") == excluded("severe_burn", 1.0)
    assert flags(w, "PSI03", "p03-exfol") == excluded("exfoliative_skin_disorder", 1.0)
    assert flags(w, "PSI03", "p03-none") == ZERO
    assert flags(w, "PSI03", "p03-mdc14") == excluded("obstetric_principal_dx", 1.0)


def test_psi06_iatrogenic_pneumothorax(psi_built):
    w = psi_built
    assert flags(w, "PSI06", "p06-num") == NUM  # a central line is not a cardiac procedure
    assert flags(w, "PSI06", "p06-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI06", "p06-trauma") == excluded("chest_trauma", 1.0)
    assert flags(w, "PSI06", "p06-effusion") == excluded("pleural_effusion", 1.0)
    assert flags(w, "PSI06", "p06-pdx") == excluded("principal_pneumothorax", 1.0)


def test_psi08_fall_with_fracture(psi_built):
    w = psi_built
    assert flags(w, "PSI08", "p08-hip") == NUM
    assert flags(w, "PSI08", "p08-other") == NUM
    assert flags(w, "PSI08", "p08-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI08", "p08-prosthesis") == excluded("prosthesis_associated_fracture", 1.0)


def test_psi09_postoperative_hemorrhage(psi_built):
    w = psi_built
    assert flags(w, "PSI09", "p09-num") == NUM
    assert flags(w, "PSI09", "p09-noproc") == ZERO  # the diagnosis needs its treatment
    assert flags(w, "PSI09", "p09-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI09", "p09-before") == excluded("treatment_before_first_or", 1.0)
    assert flags(w, "PSI09", "p09-coag") == excluded("coagulation_disorder", 1.0)
    assert flags(w, "PSI09", "p09-lytic") == excluded("thrombolytic_before", 1.0)
    assert "p03-num" not in long_rows(w, "PSI09")  # medical stays are not in the denominator


def test_psi10_postoperative_aki_with_dialysis(psi_built):
    w = psi_built
    assert flags(w, "PSI10", "p10-num") == NUM
    assert flags(w, "PSI10", "p10-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI10", "p10-sameday") == excluded("dialysis_before_first_or", 1.0)
    assert flags(w, "PSI10", "p10-dysrhythmia") == excluded("poa", 1.0)
    assert "p10-emergency" not in long_rows(w, "PSI10")  # elective admissions only
    assert flags(w, "PSI10", "p10-peritoneal") == NUM
    assert flags(w, "PSI10", "p10-access") == excluded("dialysis_access_before_first_or", 1.0)


def test_psi11_postoperative_respiratory_failure(psi_built):
    w = psi_built
    assert flags(w, "PSI11", "p11-dx") == NUM
    assert flags(w, "PSI11", "p11-vent96") == NUM  # > 96 h ventilation from the OR day on
    assert flags(w, "PSI11", "p11-vent24-day1") == ZERO  # 24-96 h counts from day 2 on
    assert flags(w, "PSI11", "p11-vent24-day2") == NUM
    assert flags(w, "PSI11", "p11-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI11", "p11-neuromuscular") == excluded("neuromuscular_disorder", 1.0)


def test_psi12_perioperative_pe_dvt(psi_built):
    w = psi_built
    assert flags(w, "PSI12", "p12-pe") == NUM
    assert flags(w, "PSI12", "p12-dvt") == NUM
    assert flags(w, "PSI12", "p12-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI12", "p12-hit") == excluded("heparin_induced_thrombocytopenia", 1.0)
    assert flags(w, "PSI12", "p12-late-or") == excluded("first_or_day_10_or_later", 1.0)
    assert flags(w, "PSI12", "p12-filter") == excluded("vena_cava_interruption_before_or", 1.0)


def test_psi13_postoperative_sepsis(psi_built):
    w = psi_built
    assert flags(w, "PSI13", "p13-num") == NUM
    assert flags(w, "PSI13", "p13-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI13", "p13-infection-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI13", "p13-late-or") == excluded("first_or_day_10_or_later", 1.0)


def test_psi14_wound_dehiscence(psi_built):
    w = psi_built
    assert flags(w, "PSI14", "p14-num") == NUM
    assert flags(w, "PSI14", "p14-sameday") == excluded("reclosure_before_abdominal_procedure", 1.0)
    assert flags(w, "PSI14", "p14-poa") == excluded("poa", 1.0)
    assert flags(w, "PSI14", "p14-los") == excluded("los_under_2", 1.0)


def test_psi15_accidental_puncture_or_laceration(psi_built):
    w = psi_built
    assert flags(w, "PSI15", "p15-num") == NUM
    assert flags(w, "PSI15", "p15-noreop") == ZERO  # no second abdominopelvic procedure
    assert flags(w, "PSI15", "p15-poa") == excluded("poa", 1.0)


def test_psi90_long_rows_are_the_harmed_stays(psi_built):
    rows = long_rows(psi_built, "PSI90")
    assert rows["p03-num"]["outcome"] == 1.0 and not rows["p03-num"]["excluded"]
    assert rows["p12-pe"]["outcome"] == 1.0
    # No counted component event: no row (PSI 03 excludes p03-poa, no other PSI counts it).
    assert not {"p03-none", "p03-poa", "p09-noproc", "p12-poa"} & set(rows)


def test_psi90_results_only_for_hospitals(psi_built):
    res = psi_built.table("quality__measure_result").to_pandas()
    p90 = res[res["measure_id"] == "PSI90"]
    assert set(p90["level"]) == {"system", "site"}
    year = p90[(p90["period_type"] == "year") & (p90["level"] == "system")].iloc[0]
    assert year["rate"] == year["oe"] and year["ci_low"] < year["oe"] < year["ci_high"]
    # AHRQ's weighted denominator: sum of w_i n_i over the components with 3+ stays.
    from cmo.measures.library.psi_rules import parameters

    comp = res[
        res["measure_id"].str.match(r"PSI(0|1)")
        & (res["period_type"] == "year")
        & (res["level"] == "system")
    ]
    w = {k: v["weight"] for k, v in parameters().items()}
    pairs = zip(comp["measure_id"], comp["denominator"], strict=True)
    expect = sum(w[m] * n for m, n in pairs if n >= 3)
    assert year["denominator"] == round(expect)
    harmed = long_rows(psi_built, "PSI90")
    assert year["numerator"] == len(harmed)


def test_compl_counts_hospital_acquired_complications_by_surgeon(psi_built):
    rows = long_rows(psi_built, "COMPL")
    assert rows["c-ssi"]["practitioner_id"] == "pr-b"
    assert (rows["c-ssi"]["excluded"], rows["c-ssi"]["outcome"]) == (False, 1.0)
    assert rows["c-ssi-poa"]["outcome"] == 0.0  # present on admission: not a complication
    assert rows["c-none"]["outcome"] == 0.0
    assert "p03-num" not in rows  # no operating-room procedure
    spec = psi_built.table("quality__measure").to_pandas().set_index("measure_id")
    assert spec.loc["COMPL", "attribution"] == "operating_surgeon"
    assert set(spec.loc[[f"PSI{n}" for n in ("03", "90")], "group"]) == {"harm"}


# -- PSI 90 arithmetic (PSI_HOSP_COMPOSITE.SAS) ------------------------------------------------
def test_psi90_weights_are_ahrqs_v2024_and_sum_to_one():
    from cmo.measures.library.psi_rules import parameters

    p = parameters()
    assert sum(v["weight"] for v in p.values()) == pytest.approx(1.0, abs=1e-9)
    assert p["PSI11"]["weight"] == pytest.approx(0.238448000785)
    assert p["PSI03"]["reference_rate"] == pytest.approx(0.000695287545)
    # The signal variance on the O/E scale is the rate-scale one over the squared reference rate.
    for v in p.values():
        assert v["signal_variance_oe"] == pytest.approx(
            v["signal_variance_rate"] / v["reference_rate"] ** 2, rel=1e-4
        )


def test_psi90_composite_arithmetic_by_hand():
    from cmo.measures.library.psi90 import composite

    params = {
        psi: {"weight": 0.1, "signal_variance_oe": 0.5, "reference_rate": 0.01}
        for psi in ("PSI03", "PSI06", "PSI08", "PSI09", "PSI10")
    } | {
        psi: {"weight": 0.1, "signal_variance_oe": 1.0, "reference_rate": 0.01}
        for psi in ("PSI11", "PSI12", "PSI13", "PSI14", "PSI15")
    }
    rows = pd.DataFrame(
        [
            {"measure_id": "PSI03", "denominator": 1000, "numerator": 6.0, "expected": 3.0},
            {"measure_id": "PSI11", "denominator": 2, "numerator": 1.0, "expected": 0.1},
        ]
    )
    c = composite(rows, params)
    # PSI 03: OE 2, noise (1 - 3/1000)/3, reliability 0.5 / (0.5 + noise).
    noise = (1 - 3 / 1000) / 3
    a = 0.5 / (0.5 + noise)
    assert c["reliability"]["PSI03"] == pytest.approx(a)
    # PSI 11 has fewer than 3 stays and the other eight none: each adds its weight (OE 1).
    assert c["value"] == pytest.approx(0.1 * (a * 2 + (1 - a)) + 0.9)
    var = 0.01 * 0.5 * (1 - a) + 0.01 * (4 * 0.5 + 5 * 1.0)
    assert c["variance"] == pytest.approx(var)
    assert c["ci_high"] - c["value"] == pytest.approx(1.96 * var**0.5)


def test_psi90_component_without_model_uses_ahrq_reference_rate():
    from cmo.measures.library.psi90 import composite
    from cmo.measures.library.psi_rules import parameters

    p = parameters()
    rows = pd.DataFrame(
        [{"measure_id": "PSI12", "denominator": 10_000, "numerator": 0.0, "expected": None}]
    )
    c = composite(rows, p)
    e = 10_000 * p["PSI12"]["reference_rate"]
    a = p["PSI12"]["signal_variance_oe"] / (p["PSI12"]["signal_variance_oe"] + (1 - e / 10_000) / e)
    assert c["reliability"]["PSI12"] == pytest.approx(a)
    assert c["value"] == pytest.approx(1 - p["PSI12"]["weight"] * a)


# -- the flag table holds what the rules read, and no more ----------------------------------------
def _read_by_rules(t: Any) -> set[str]:
    """The columns of ``t`` that the PSI rules, COMPL and the long rows read."""
    import ibis.expr.operations as ops

    from cmo.measures.library.psi_rules import PSI_IDS, rules

    exprs = [t.or_count, t.surgeon_id, t.attending_id, t.stay_id, t.patient_id]
    exprs += [t.discharge_date, t.site_id, t.department_id, t.unit_id]
    for psi in PSI_IDS:
        include, exclusions, num = rules(psi, t)
        exprs += [include, num, *[c for c, _ in exclusions]]
    return {f.name for e in exprs for f in e.op().find(ops.Field) if f.rel == t.op()}


def test_flag_table_columns_are_exactly_what_the_rules_read(psi_built):
    """Given the built flag table read as named flags, when every PSI's rules are built over it,
    then every declared flag is read (nothing is computed for nobody), every column the rules
    read exists, and a flag nobody declared is an error, not a silent false."""
    from cmo.measures.library.psi_rules import DX_BITS, DX_ROLES, PROC_BITS, PROC_FLAGS, decode

    t = decode(psi_built.table("core__psi_stay"))
    read = _read_by_rules(t)
    declared = {f"{role}_{n}" for role, names in DX_ROLES.items() for n in names}
    declared |= {f"{agg}_{n}" for agg, names in PROC_FLAGS.items() for n in names}
    assert declared <= read, sorted(declared - read)
    assert read <= set(t.columns)
    assert len(DX_BITS) <= 63 and len(PROC_BITS) <= 63
    with pytest.raises(AttributeError):
        t.first_ECMOP  # noqa: B018 (not declared in PROC_FLAGS)


def test_flag_table_masks_read_as_the_named_flags(psi_built):
    """Given the scenario's flag table, then the decoded flags are the stays' roles: a new
    sacral ulcer is a secondary diagnosis not POA, a POA one is secondary POA, the hemorrhage
    treatment is a procedure in HEMOTH2P, peritoneal dialysis is in DIALYIP, and a pneumonia
    stay has only its principal infection flag."""
    from cmo.measures.library.psi_rules import decode

    t = decode(psi_built.table("core__psi_stay")).to_pandas().set_index("stay_id")
    assert t.loc["p03-num", ["sdx_DECUBVD", "sdxpoa_DECUBVD", "pdx_DECUBVD"]].tolist() == [
        True,
        False,
        False,
    ]
    assert t.loc["p03-poa", ["sdx_DECUBVD", "sdxpoa_DECUBVD"]].tolist() == [True, True]
    assert t.loc["p09-num", "pr_HEMOTH2P"] and not t.loc["p09-noproc", "pr_HEMOTH2P"]
    assert t.loc["p09-num", "first_HEMOTH2P"] == 2 and t.loc["p09-num", "or_day"] == 0
    assert t.loc["p10-peritoneal", "pr_DIALYIP"] and t.loc["p10-peritoneal", "first_DIALYIP"] == 2
    # p03-none: pneumonia (J18.9, in INFECID) with E11.9 (in no list) and no procedure.
    flags = t.loc["p03-none"].filter(regex="^(any|pdx|sdx|sdxpoa|anypoa|pr)_")
    assert set(flags[flags.astype(bool)].index) == {"pdx_INFECID"}


# -- portability: the same rows on Spark -------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
def test_psi_rows_on_spark_equal_duckdb(psi_built, spark_warehouse, tmp_path):
    """Given the scenario's fhir tables copied to Spark through Parquet and the models fitted
    on DuckDB, when the build runs on Spark, then the PSI stay flags, every PSI/COMPL long row
    and the PSI 90 results equal DuckDB's."""
    from cmo.measures import api
    from cmo.measures.build import run
    from cmo.measures.core import FHIR_SCHEMAS

    from .test_spark import _frame, _same

    def decoded(wh: Any) -> Any:
        from cmo.measures.library.psi_rules import decode

        return decode(wh.table("core__psi_stay"))

    def _sorted(t: Any) -> pd.DataFrame:
        return t.to_pandas().sort_values("stay_id").reset_index(drop=True)

    spark = spark_warehouse.spark
    duck_tables = set(psi_built.list_tables("fhir"))
    for name in spark_warehouse.list_tables("fhir"):
        if name not in duck_tables:  # left by another test's scenario
            spark.sql(f"DROP TABLE IF EXISTS {name}")
    for name in duck_tables & set(FHIR_SCHEMAS):
        path = tmp_path / f"{name}.parquet"
        psi_built.con.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark.read.parquet(str(path)).write.saveAsTable(name)
    mine = [m for m in api.list_measures(psi_built) if m["measure_id"].startswith(("PSI", "COMPL"))]
    models = {}
    for m in mine:
        card = api.model_card(psi_built, m["measure_id"])
        if card and card.get("model"):
            models[m["measure_id"]] = card["model"]
    run(spark_warehouse, models=models, progress=False)
    # The stored masks, and the named flags the rules read from them (bit tests on both).
    for view in (lambda wh: wh.table("core__psi_stay"), decoded):
        duck, spark_t = view(psi_built), view(spark_warehouse)
        _same(_sorted(duck), _sorted(spark_t)[list(duck.columns)])
    keys = ["measure_id", "stay_id"]
    duck_long = _frame(psi_built, "quality__measure_long", keys)
    spark_long = _frame(spark_warehouse, "quality__measure_long", keys)
    ids = [m["measure_id"] for m in mine]
    pick = lambda f: f[f["measure_id"].isin(ids)].reset_index(drop=True)  # noqa: E731
    _same(pick(duck_long), pick(spark_long))
    keys = ["measure_id", "period_type", "period_start", "level", "unit_id"]
    p90 = lambda f: f[f["measure_id"] == "PSI90"].reset_index(drop=True)  # noqa: E731
    _same(
        p90(_frame(psi_built, "quality__measure_result", keys)),
        p90(_frame(spark_warehouse, "quality__measure_result", keys)),
    )
