"""Given / when / then: every inclusion, exclusion and outcome rule, on the shared test bed.

Given: the patients of ``conftest.scenario`` (one per rule). When: the real ingest and build
(``built`` fixture). Then: the exact long rows below.
"""

from __future__ import annotations

from datetime import date

import pytest

from .testbed import long_rows, stays


def row(wh, measure: str, stay: str) -> dict:
    return long_rows(wh, measure)[stay]


def flags(r: dict) -> tuple:
    return (r["in_population"], r["excluded"], r["exclusion_reason"], r["outcome"])


# -- core__inpatient_stay -----------------------------------------------------------------------
def test_only_finished_inpatient_encounters_become_stays(built):
    s = stays(built)
    assert "s-basic" in s
    assert not {"s-amb", "s-open", "s-cancel", "ed-end"} & set(s)


def test_attribution_site_department_ward_and_latest_attending(built):
    s = stays(built)["s-basic"]
    assert (s["site_id"], s["department_id"], s["unit_id"]) == (
        "org-h1",
        "org-h1-med",
        "loc-h1-ward",
    )
    assert s["attending_id"] == "pr-b"  # the later of two ATND participants
    assert s["los_days"] == 4 and s["age"] == 73 and s["sex"] == "male"
    assert s["priority"] == "emergency"
    assert s["principal_dx"] == "I509"
    assert sorted(s["secondary_dx"]) == ["E119", "I10", "N1830"]


def test_department_is_service_type_when_provider_is_the_site(built):
    s = stays(built)["s-root"]
    assert (s["site_id"], s["department_id"], s["unit_id"]) == (
        "org-h2",
        "cardiology",
        "loc-h2-ward",
    )


def test_principal_diagnosis_falls_back_to_billing_then_claim(built):
    s = stays(built)
    assert s["s-billing"]["principal_dx"] == "K3580"
    assert s["s-claim"]["principal_dx"] == "N390"
    assert sorted(s["s-claim"]["secondary_dx"]) == ["E871", "I509"]


def test_transfer_chain_links_stays_at_two_sites_within_24h(built):
    s = stays(built)
    a, b = s["s-chain-a"], s["s-chain-b"]
    assert a["chain_id"] == b["chain_id"] == "s-chain-a"
    assert (a["chain_seq"], b["chain_seq"]) == (1, 2)
    assert (a["chain_last"], b["chain_last"]) == (False, True)
    assert b["transfer_in"] and not a["transfer_in"]
    assert a["transfer_out"] and not b["transfer_out"]
    assert (a["discharge_disposition"], a["discharge_nubc"]) == ("other-hcf", "02")
    assert a["disposition_category"] == "acute_transfer"
    # A same-day return to the same hospital is not a transfer.
    assert s["s-day0-back"]["chain_id"] == "s-day0-back"
    assert not s["s-day0-index"]["transfer_out"]


def test_admission_elsewhere_within_24h_is_a_transfer_whatever_the_disposition(built):
    s = stays(built)
    a, b = s["s-quick-a"], s["s-quick-b"]
    assert a["discharge_disposition"] == "home"
    assert a["chain_id"] == b["chain_id"] == "s-quick-a"
    assert a["transfer_out"] and b["transfer_in"]
    assert row(built, "IMORT", "s-quick-b")["exclusion_reason"] == "transfer_in"
    assert row(built, "READM30", "s-quick-a")["exclusion_reason"] == "transfer_out"


def test_hospice_is_hospice_not_a_transfer(built):
    s = stays(built)["s-hospice-1"]
    assert (s["discharge_disposition"], s["discharge_nubc"]) == ("hosp", "50")
    assert s["disposition_category"] == "hospice"
    assert not s["transfer_out"] and s["chain_size"] == 1
    # Discharged alive to hospice: an index stay for READM30, not a transfer out.
    assert row(built, "READM30", "s-hospice-1")["exclusion_reason"] is None


def test_nubc_code_refines_the_hl7_code(built):
    s = stays(built)["s-psyhosp"]
    # other-hcf alone would be an acute transfer; NUBC 65 says psychiatric hospital.
    assert s["disposition_category"] == "psych" and not s["transfer_out"]
    assert row(built, "READM30", "s-psyhosp")["exclusion_reason"] is None


def test_died_in_hospital_from_disposition_or_death_time(built):
    s = stays(built)
    assert s["s-exp"]["died_in_hospital"] and s["s-deathtime"]["died_in_hospital"]
    assert not s["s-late-death"]["died_in_hospital"]
    # Discharged home, died at home the same evening: alive at discharge, no conflict.
    home = s["s-home-died"]
    assert not home["died_in_hospital"] and not home["vital_status_conflict"]
    assert flags(row(built, "IMORT", "s-home-died")) == (True, False, None, 0.0)
    assert row(built, "MORT30", "s-home-died")["outcome"] == 1.0


@pytest.mark.parametrize("stay", ["s-alive-dead", "s-exp-late"])
def test_vital_status_conflicts_are_excluded(built, stay):
    s = stays(built)[stay]
    assert s["vital_status_conflict"]
    for measure in ("IMORT", "MORT30", "READM30"):
        r = row(built, measure, stay)
        assert (r["excluded"], r["exclusion_reason"]) == (True, "vital_status_inconsistent")
    assert not stays(built)["s-exp"]["vital_status_conflict"]


def test_surgeon_is_the_performer_of_the_principal_procedure(built):
    s = stays(built)
    assert (s["s-surg"]["attending_id"], s["s-surg"]["surgeon_id"]) == ("pr-a", "pr-b")
    assert s["s-basic"]["surgeon_id"] is None  # no procedure


# -- IMORT --------------------------------------------------------------------------------------
def test_imort_adult_discharged_alive_is_a_zero(built):
    r = row(built, "IMORT", "s-basic")
    assert flags(r) == (True, False, None, 0.0)
    assert r["period_month"] == date(2024, 3, 1) and r["practitioner_id"] == "pr-b"
    assert 0 < r["expected"] < 1


@pytest.mark.parametrize(
    ("stay", "reason"), [("s-child", "age_under_18"), ("s-transin", "transfer_in")]
)
def test_imort_exclusions(built, stay, reason):
    r = row(built, "IMORT", stay)
    assert (r["excluded"], r["exclusion_reason"]) == (True, reason)
    assert r["expected"] is None


@pytest.mark.parametrize(
    ("stay", "evidence"), [("s-exp", "2024-06-04"), ("s-deathtime", "2024-06-10")]
)
def test_imort_outcome_disposition_exp_or_death_time(built, stay, evidence):
    r = row(built, "IMORT", stay)
    assert flags(r) == (True, False, None, 1.0)
    assert r["evidence_date"] == date.fromisoformat(evidence)


@pytest.mark.parametrize(
    ("stay", "reason"), [("s-obst", "obstetric"), ("s-nonac-back", "non_acute")]
)
def test_imort_excludes_obstetric_and_non_acute_stays(built, stay, reason):
    if stay == "s-obst":
        drg = {x["stay_id"]: x for x in built.table("core__drg").to_pyarrow().to_pylist()}
        assert drg["s-obst"]["mdc"] == "14"
    r = row(built, "IMORT", stay)
    assert (r["excluded"], r["exclusion_reason"]) == (True, reason)


def test_imort_transfer_chain_death_counts_against_first_hospital(built):
    a, b = row(built, "IMORT", "s-chain-a"), row(built, "IMORT", "s-chain-b")
    assert flags(a) == (True, False, None, 1.0) and a["site_id"] == "org-h1"
    assert a["evidence_date"] == date(2024, 7, 14)
    assert (b["excluded"], b["exclusion_reason"]) == (True, "transfer_in")


# -- MORT30 -------------------------------------------------------------------------------------
def test_mort30_death_after_discharge_within_30_days(built):
    assert flags(row(built, "IMORT", "s-late-death")) == (True, False, None, 0.0)
    r = row(built, "MORT30", "s-late-death")
    assert flags(r) == (True, False, None, 1.0)
    assert r["evidence_date"] == date(2024, 8, 15)


def test_mort30_death_on_day_31_is_not_counted(built):
    assert flags(row(built, "MORT30", "s-day31")) == (True, False, None, 0.0)


def test_mort30_window_must_end_by_data_end(built):
    r = row(built, "MORT30", "s-recent")
    assert (r["excluded"], r["exclusion_reason"]) == (True, "follow_up_incomplete")
    assert not row(built, "IMORT", "s-recent")["excluded"]


def test_mort30_chain_counts_once_at_first_hospital(built):
    assert flags(row(built, "MORT30", "s-chain-a")) == (True, False, None, 1.0)
    assert row(built, "MORT30", "s-chain-b")["exclusion_reason"] == "transfer_in"


def test_mort30_one_seeded_random_index_stay_per_patient_year(built):
    import hashlib

    from cmo.measures.library.mort30 import SEED

    a, b = row(built, "MORT30", "s-twice-1"), row(built, "MORT30", "s-twice-2")

    def key(stay):
        return hashlib.md5(f"pt-twice|{stay}|{SEED}".encode()).hexdigest()

    chosen = min(("s-twice-1", "s-twice-2"), key=key)
    other = "s-twice-2" if chosen == "s-twice-1" else "s-twice-1"
    reasons = {"s-twice-1": a["exclusion_reason"], "s-twice-2": b["exclusion_reason"]}
    assert reasons == {chosen: None, other: "not_selected_index"}
    # IMORT keeps both stays.
    assert row(built, "IMORT", "s-twice-1")["exclusion_reason"] is None
    assert row(built, "IMORT", "s-twice-2")["exclusion_reason"] is None


@pytest.mark.parametrize(
    ("stay", "reason"),
    [
        ("s-ama", "against_medical_advice"),
        ("s-hospice-2", "hospice_before_admission"),
        ("s-nonac-back", "non_acute"),
    ],
)
def test_mort30_cohort_exclusions(built, stay, reason):
    r = row(built, "MORT30", stay)
    assert (r["excluded"], r["exclusion_reason"]) == (True, reason)
    assert row(built, "MORT30", "s-hospice-1")["exclusion_reason"] is None


# -- READM30 ------------------------------------------------------------------------------------
def test_readm30_unplanned_readmission_within_30_days(built):
    r = row(built, "READM30", "s-readm-index")
    assert flags(r) == (True, False, None, 1.0)
    assert r["evidence_date"] == date(2024, 4, 20)
    # The readmission is an index stay of its own, with no readmission after it.
    assert flags(row(built, "READM30", "s-readm-back")) == (True, False, None, 0.0)


@pytest.mark.parametrize("stay", ["s-day0-index", "s-day31-index"])
def test_readm30_day_0_and_day_31_returns_do_not_count(built, stay):
    assert flags(row(built, "READM30", stay)) == (True, False, None, 0.0)


@pytest.mark.parametrize(
    "stay", ["s-chemo-index", "s-knee-index", "s-knee-em-index", "s-kidney-index"]
)
def test_readm30_planned_readmissions_do_not_count(built, stay):
    # Z51.11 (PR2); hip/knee arthroplasty with a non-acute principal, elective or emergency
    # (PR3, no priority test); kidney transplant (PR1) whatever the principal.
    assert flags(row(built, "READM30", stay)) == (True, False, None, 0.0)


def test_readm30_non_acute_readmission_does_not_count(built):
    assert flags(row(built, "READM30", "s-nonac-index")) == (True, False, None, 0.0)
    r = row(built, "READM30", "s-nonac-back")
    assert (r["excluded"], r["exclusion_reason"]) == (True, "non_acute")


def test_readm30_elective_procedure_with_acute_principal_is_unplanned(built):
    r = row(built, "READM30", "s-acute-index")
    assert flags(r) == (True, False, None, 1.0)
    assert r["evidence_date"] == date(2024, 3, 15)


@pytest.mark.parametrize(
    ("stay", "reason"),
    [
        ("s-child", "age_under_18"),
        ("s-exp", "died"),
        ("s-chain-a", "transfer_out"),
        ("s-chain-b", "died"),
        ("s-ama", "against_medical_advice"),
        ("s-recent", "follow_up_incomplete"),
        ("s-cancer-med", "cancer_medical"),
        ("s-psych", "psychiatric"),
        ("s-rehab", "rehabilitation"),
    ],
)
def test_readm30_index_exclusions(built, stay, reason):
    r = row(built, "READM30", stay)
    assert (r["in_population"], r["excluded"], r["exclusion_reason"]) == (True, True, reason)
    assert r["expected"] is None


def test_readm30_cancer_with_a_procedure_is_an_index(built):
    assert flags(row(built, "READM30", "s-cancer-surg")) == (True, False, None, 0.0)


def test_readm30_counts_against_the_latest_index_only(built):
    first, second = row(built, "READM30", "s-latest-1"), row(built, "READM30", "s-latest-2")
    assert flags(first) == (True, False, None, 0.0)  # s-latest-2 was planned
    assert flags(second) == (True, False, None, 1.0)
    assert second["evidence_date"] == date(2024, 5, 20)


# -- LOS and LACE -------------------------------------------------------------------------------
def test_los_outcome_is_days_and_expected_is_drg_amlos(built):
    from cmo.measures.drg import table5

    r = row(built, "LOS", "s-basic")
    drg = {x["stay_id"]: x for x in built.table("core__drg").to_pyarrow().to_pylist()}["s-basic"]
    assert drg["drg"] == "293" and drg["return_code"] == "OK"  # heart failure w/o CC/MCC
    # Table 5 FY2026, MS-DRG 293: GMLOS 2.1, AMLOS 2.5.
    assert table5()["293"][3:] == (2.1, 2.5)
    assert r["outcome"] == 4.0 and r["expected"] == 2.5 == drg["amlos"]
    assert row(built, "LOS", "s-child")["exclusion_reason"] == "age_under_18"


@pytest.mark.parametrize(
    ("stay", "reason"),
    [("s-exp", "died"), ("s-chain-a", "transfer_out"), ("s-nonac-back", "non_acute")],
)
def test_los_excludes_deaths_transfers_out_and_non_acute(built, stay, reason):
    r = row(built, "LOS", stay)
    assert (r["excluded"], r["exclusion_reason"]) == (True, reason)


def test_los_outlier_fence_is_q3_plus_3_iqr_per_drg():
    import pandas as pd

    from cmo.measures.library.los import fences

    # DRG A: LOS 2,2,3,3,3,4,4,4,5,5 -> Q1 3, Q3 4 -> fence 7; DRG B: too few stays.
    counts = pd.DataFrame(
        {"drg": ["A"] * 4 + ["B"], "los_days": [2, 3, 4, 5, 9], "n": [2, 3, 3, 2, 3]}
    )
    f = fences(counts)
    assert f.to_dict("records") == [{"drg": "A", "fence": 7.0}]


def test_lace_score_from_los_acuity_charlson_and_ed_visits(built):
    # LOS 5 d -> 4; emergency -> 3; Charlson (LACE weights) 11 -> 5; 2 ED visits in 6 months.
    r = row(built, "LACE", "s-comorb")
    assert flags(r) == (True, False, None, 14.0)
    assert row(built, "LACE", "s-ama")["exclusion_reason"] == "against_medical_advice"


def test_comorbidity_uses_secondary_diagnoses_with_hierarchy(built):
    cm = {r["stay_id"]: r for r in built.table("core__comorbidity").to_pyarrow().to_pylist()}
    c = cm["s-comorb"]
    assert not c["ch_mi"]  # I21.9 is the principal diagnosis
    assert c["ch_diabwc"] and not c["ch_diab"]
    assert c["ch_metacanc"] and not c["ch_canc"]
    assert c["el_metacanc"] and not c["el_solidtum"]
    assert c["ch_dementia"]
    assert c["charlson_quan2011"] == 2 + 1 + 6
    assert c["charlson_lace"] == 3 + 2 + 6
    # Not present on admission (Claim POA n) does not count: I50.9 on s-claim.
    assert not cm["s-claim"]["ch_chf"]


def test_comorbidity_counts_poa_y_w_only_and_never_a_complication(built):
    cm = {r["stay_id"]: r for r in built.table("core__comorbidity").to_pyarrow().to_pylist()}
    c = cm["s-poa"]
    assert c["el_hypunc"]  # I10, POA W (clinically undetermined) counts
    assert not c["el_diabunc"]  # E11.9, POA U (documentation insufficient) does not
    assert not c["el_carit"]  # T82.110A, POA Y, but on the complication list


def test_comorbidity_without_poa_needs_the_code_in_the_prior_12_months(built):
    cm = {r["stay_id"]: r for r in built.table("core__comorbidity").to_pyarrow().to_pylist()}
    assert cm["s-prior-2"]["el_diabunc"]  # E11.9 was coded on s-prior-1 in January
    assert not cm["s-prior-2"]["el_hypunc"]  # I10 is new: it may have arisen in hospital
    assert not cm["s-prior-1"]["el_diabunc"]  # nothing before s-prior-1
    dx = built.table("core__stay_diagnosis").to_pandas()
    prior = dx[dx["stay_id"] == "s-prior-2"].set_index("code")["prior_12m"]
    # Only codes in a comorbidity category are looked up: K21.9 was coded in January too.
    assert prior.to_dict() == {"J441": False, "E119": True, "I10": False, "K219": False}


def test_comorbid_codes_match_the_category_prefixes():
    import pandas as pd

    from cmo.measures.core import comorbid_codes

    codes = pd.Series(["E119", "I10", "K219", "Z794", "I2510", "C787", None, ""])
    # Diabetes, hypertension, metastatic cancer are categories; GERD, insulin use, chronic
    # ischaemic heart disease (I25.10) and empty codes are not (Quan 2005).
    assert comorbid_codes(codes).tolist() == [True, True, False, False, False, True, False, False]


# -- attribution ------------------------------------------------------------------------------
def test_attribution_rule_is_stated_per_measure_and_picks_the_column(built):
    from dataclasses import replace

    from cmo.measures.library.common import skeleton
    from cmo.measures.spec import ATTRIBUTION_RULES, registry

    assert set(ATTRIBUTION_RULES.values()) <= set(built.table("core__inpatient_stay").columns)
    specs = {mid: m.spec for mid, m in registry().items()}
    assert {specs[m].row()["attribution"] for m in ("IMORT", "MORT30", "READM30", "LOS")} == {
        "attending_at_discharge"
    }
    with pytest.raises(ValueError, match="unknown attribution"):
        replace(specs["IMORT"], attribution="most_days")
    t = built.table("core__inpatient_stay")
    t = t.filter(t.stay_id == "s-surg")
    by = {
        rule: skeleton("X", t, rule).to_pyarrow().to_pylist()[0]["practitioner_id"]
        for rule in ATTRIBUTION_RULES
    }
    assert by == {"attending_at_discharge": "pr-a", "operating_surgeon": "pr-b"}
