"""Credential files: validation of what a form saves, what the file flags, history."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from cmo.staff.models import CmeCredit, DeaRegistration, Licence, Verification, WorkHistory
from cmo.staff.services import file_flags

TODAY = date(2026, 6, 1)


def test_dea_with_a_bad_check_digit_is_rejected_by_validation(staff: dict[str, Any]) -> None:
    dea = DeaRegistration(file=staff["pr1"], number="AH1234567", state="TX", expires=TODAY)
    with pytest.raises(ValidationError, match="not a valid DEA"):
        dea.full_clean()
    DeaRegistration(file=staff["pr1"], number="AH1234563", state="TX", expires=TODAY).full_clean()


def test_an_imported_bad_dea_is_flagged_in_the_file(staff: dict[str, Any]) -> None:
    # A feed (or the demo) can store a number the form would refuse: the file must say so.
    DeaRegistration.objects.create(file=staff["pr1"], number="AH1234567", state="TX", expires=TODAY)
    assert file_flags(staff["pr1"], TODAY)["bad_deas"] == ["AH1234567"]


def test_npi_checked_with_luhn(staff: dict[str, Any]) -> None:
    f = staff["pr1"]
    assert file_flags(f, TODAY)["npi_ok"]
    f.practitioner.npi = "1234567890"
    with pytest.raises(ValidationError, match="not a valid NPI"):
        f.full_clean()
    assert not file_flags(f, TODAY)["npi_ok"]


def test_work_gap_flagged_until_explained(staff: dict[str, Any]) -> None:
    f = staff["pr2"]
    WorkHistory.objects.create(file=f, employer="A", start=date(2010, 1, 1), end=date(2015, 1, 1))
    later = WorkHistory.objects.create(file=f, employer="B", start=date(2016, 1, 1))
    gaps = file_flags(f, TODAY)["gaps"]
    assert gaps == [{"start": date(2015, 1, 1), "end": date(2016, 1, 1), "explained": False}]
    later.gap_explanation = "parental leave"
    later.save()
    assert file_flags(f, TODAY)["gaps"][0]["explained"]


def test_cme_against_the_configured_requirement(staff: dict[str, Any], settings: Any) -> None:
    f = staff["pr1"]
    f.cme_cycle_start = date(2025, 1, 1)
    f.save()
    CmeCredit.objects.create(file=f, earned_on=date(2025, 3, 1), hours=30, title="ACC")
    CmeCredit.objects.create(file=f, earned_on=date(2024, 3, 1), hours=30, title="before")
    settings.STAFF_CME_HOURS = 50
    flags = file_flags(f, TODAY)
    assert flags["cme"]["earned"] == 30 and flags["cme_short"]
    settings.STAFF_CME_HOURS = 25
    assert not file_flags(f, TODAY)["cme_short"]


def test_verifications_stale_by_the_planned_decision(staff: dict[str, Any]) -> None:
    f = staff["pr1"]
    Verification.objects.create(
        file=f, element="licence", source="TMB", verified_on=date(2026, 1, 1), method="online"
    )
    Verification.objects.create(
        file=f, element="board", source="ABIM", verified_on=date(2026, 5, 1), method="online"
    )
    flags = file_flags(f, TODAY, decision=date(2026, 6, 1))
    assert flags["stale"] == ["State licence"]  # 151 days old at the decision
    assert (
        "Board certification" not in flags["unverified"]
        and "DEA registration" in flags["unverified"]
    )


def test_every_change_is_kept_with_who_and_when(staff: dict[str, Any], role_users: Any) -> None:
    lic = Licence.objects.create(file=staff["pr1"], state="TX", number="N1", expires=TODAY)
    lic.expires = date(2028, 6, 1)
    lic._history_user = role_users["medical_staff_office"]
    lic.save()
    versions = list(lic.history.order_by("history_date"))
    assert [v.history_type for v in versions] == ["+", "~"]
    assert versions[0].expires == TODAY and versions[1].expires == date(2028, 6, 1)
    assert versions[1].history_user == role_users["medical_staff_office"]
