"""Given / when / then: quality__data_issue lists the data problems behind the measures.

Given the test-bed scenario (conftest), when ``cmo.measures.data_quality.issues`` runs on the
built core tables, then each planted problem is listed with its stay, and the missing-POA share
of each site is the share of its secondary diagnoses without a POA indicator.
"""

from __future__ import annotations

import pytest

from cmo.measures import data_quality


@pytest.fixture(scope="module")
def issues(built):
    return data_quality.issues(built).to_pandas()


def _stays(issues, issue):
    return set(issues[issues.issue == issue].stay_id)


def test_vital_status_conflicts_are_listed(issues):
    assert _stays(issues, "vital_status_conflict") == {"s-alive-dead", "s-exp-late"}
    row = issues[issues.stay_id == "s-exp-late"].iloc[0]
    assert "death date 2024-06-16" in row.detail and "expired" in row.detail


def test_stays_without_an_attending_are_listed(issues):
    assert _stays(issues, "no_attending") == {"s-dq"}


def test_invalid_codes_are_listed(issues):
    dx = issues[issues.issue == "invalid_diagnosis_code"]
    assert set(zip(dx.stay_id, dx.code, strict=True)) == {("s-dq", "I50")}
    pcs = issues[issues.issue == "invalid_procedure_code"]
    assert set(zip(pcs.stay_id, pcs.code, strict=True)) == {("s-dq", "XYZ")}


def test_missing_poa_share_by_site(built, issues):
    dx = built.table("core__stay_diagnosis").to_pandas()
    stays = built.table("core__inpatient_stay").to_pandas()[["stay_id", "site_id"]]
    sec = dx[~dx.is_principal].merge(stays, on="stay_id")
    want = sec.assign(missing=sec.poa.isna()).groupby("site_id").missing.mean().to_dict()
    got = issues[issues.issue == "missing_poa_share"].set_index("site_id").value.to_dict()
    assert got == pytest.approx(want)
    # Only the Claims carry POA: most secondary diagnoses of the test bed have none.
    assert 0 < got["org-h1"] < 1


def test_code_checks():
    assert data_quality.invalid_icd10cm(["I509", "I50", "T82110A", "XYZ"]) == ["I50", "XYZ"]
    assert data_quality.invalid_icd10pcs(["0SRD0J9", "0SRD0I9", "XYZ"]) == ["0SRD0I9", "XYZ"]
