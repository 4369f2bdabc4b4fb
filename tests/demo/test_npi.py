"""NPI check digits: the CMS worked example and the published reference cases."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmo.identifiers import check_digit, is_valid_npi, make_npi


def test_reference_cases_reproduced(reference_dir: Path) -> None:
    with (reference_dir / "npi" / "npi_cases.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 10
    for row in rows:
        assert is_valid_npi(row["input"]) is (row["expected_valid"] == "True"), row


def test_cms_worked_example() -> None:
    # CMS, "Requirements for NPI Check Digit": base 123456789 -> check digit 3.
    assert check_digit("123456789") == 3
    assert make_npi(123456789) == "1234567893"


def test_check_digit_rejects_bad_base() -> None:
    with pytest.raises(ValueError):
        check_digit("12345678")


def test_every_generated_npi_is_valid_and_unique(small_export: Path) -> None:
    npis = []
    with (small_export / "Practitioner.ndjson").open("rb") as f:
        for line in f:
            p = orjson.loads(line)
            ident = [i for i in p["identifier"] if i["system"] == "http://hl7.org/fhir/sid/us-npi"]
            npis.append(ident[0]["value"])
    assert len(npis) >= 60
    assert all(is_valid_npi(n) for n in npis)
    assert len(set(npis)) == len(npis)


@given(st.integers(min_value=100_000_000, max_value=299_999_999), st.integers(0, 9))
def test_made_npis_valid_and_single_digit_errors_caught(base: int, position: int) -> None:
    npi = make_npi(base)
    assert is_valid_npi(npi) and is_valid_npi("80840" + npi)
    # Luhn catches every single-digit substitution.
    digit = int(npi[position])
    wrong = npi[:position] + str((digit + 1) % 10) + npi[position + 1 :]
    assert not is_valid_npi(wrong)
