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
    assert sorted(s["secondary_dx"]) == ["E119", "I10", "N183"]


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
    # A same-day return home -> other site is not a transfer (disposition home).
    assert s["s-day0-back"]["chain_id"] == "s-day0-back"


def test_died_in_hospital_from_disposition_or_death_time(built):
    s = stays(built)
    assert s["s-exp"]["died_in_hospital"] and s["s-deathtime"]["died_in_hospital"]
    assert not s["s-late-death"]["died_in_hospital"]


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


@pytest.mark.parametrize("stay", ["s-chemo-index", "s-knee-index"])
def test_readm30_planned_readmissions_do_not_count(built, stay):
    assert flags(row(built, "READM30", stay)) == (True, False, None, 0.0)


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
def test_los_outcome_is_days_and_expected_is_drg_gmlos(built):
    from cmo.measures.drg import table5

    r = row(built, "LOS", "s-basic")
    drg = {x["stay_id"]: x for x in built.table("core__drg").to_pyarrow().to_pylist()}["s-basic"]
    assert drg["drg"] == "293" and drg["return_code"] == "OK"  # heart failure w/o CC/MCC
    assert r["outcome"] == 4.0 and r["expected"] == table5()["293"][3] == drg["gmlos"]
    assert row(built, "LOS", "s-child")["exclusion_reason"] == "age_under_18"


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
