"""Published check-digit cases: NPI (CMS) and DEA registration numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cmo.identifiers import dea_check_digit, is_valid_dea, is_valid_npi


def test_npi_cms_worked_example() -> None:
    # CMS, "Requirements for NPI Check Digit": 123456789 with prefix 80840 -> check digit 3.
    assert is_valid_npi("1234567893")
    assert is_valid_npi("808401234567893")
    assert not is_valid_npi("1234567890")


def test_npi_published_reference_cases(reference_dir: Path) -> None:
    path = reference_dir / "npi" / "npi_cases.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        assert is_valid_npi(row["input"]) is (row["expected_valid"] == "True"), row


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        # (1+3+5) + 2*(2+4+6) = 33 -> check digit 3: the textbook example.
        ("AB1234563", True),
        # (6+2+3) + 2*(1+5+4) = 31 -> 1.
        ("BJ6125341", True),
        ("AB1234567", False),  # check digit altered
        ("AB123456", False),  # too short
        ("1B1234563", False),  # first character must be a letter
        ("A91234563", True),  # business registrants may have 9 as the second character
        ("ab1234563", True),  # case does not matter
    ],
)
def test_dea_published_algorithm(number: str, valid: bool) -> None:
    assert is_valid_dea(number) is valid


def test_dea_check_digit_and_bad_input() -> None:
    assert dea_check_digit("123456") == 3
    with pytest.raises(ValueError):
        dea_check_digit("12345")
