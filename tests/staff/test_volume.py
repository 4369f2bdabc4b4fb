"""Case volume in the warehouse (cmo.measures.volume): stays as attending by principal diagnosis."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from cmo.measures.volume import case_volume

CM = "http://hl7.org/fhir/sid/icd-10-cm"


def test_stays_as_attending_by_principal_diagnosis(warehouse: Any) -> None:
    warehouse.write(
        "core__inpatient_stay",
        pa.table(
            {
                "stay_id": ["s1", "s2", "s3", "s4"],
                "attending_id": ["pr1", "pr1", "pr2", "pr1"],
                "discharge_date": [date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1),
                                   date(2022, 1, 1)],
            }
        ),
    )  # fmt: skip
    warehouse.write(
        "core__stay_diagnosis",
        pa.table(
            {
                "stay_id": ["s1", "s1", "s2", "s3", "s4"],
                "code": ["I214", "I10", "J189", "I21.0", "I214"],
                "is_principal": [True, False, True, True, True],
            }
        ),
    )
    codes = [
        {"privilege": 7, "source": "attending", "system": CM, "code": "I21.*"},
        {"privilege": 8, "source": "attending", "system": CM, "code": "J18.9"},
    ]
    got = case_volume(warehouse, codes, date(2024, 1, 1), date(2026, 1, 1))
    # s1 (I21.4 principal), s3 (I21.0 with a dot) count for 7; s4 is outside the window.
    assert got == {("pr1", "7"): 1, ("pr2", "7"): 1, ("pr1", "8"): 1}
    assert case_volume(warehouse, [], date(2024, 1, 1), date(2026, 1, 1)) == {}
