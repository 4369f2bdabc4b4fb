"""The rolling 12- and 24-month periods of quality__measure_result (``results.aggregate`` with
``rolling_end``): sums and exact medians of the months ending at the latest complete month,
only when the data cover the whole window."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cmo.measures.results import aggregate, count_rows


def _long(months: int) -> pd.DataFrame:
    """Ten stays a month from January 2023, LOS 1..10 days, one site/department/unit."""
    rows = []
    for m in range(months):
        start = date(2023 + m // 12, m % 12 + 1, 1)
        for i in range(10):
            rows.append(
                {
                    "measure_id": "LOS",
                    "stay_id": f"s{m:02d}-{i}",
                    "period_month": start,
                    "site_id": "h1",
                    "department_id": "d1",
                    "unit_id": "u1",
                    "practitioner_id": "p1",
                    "in_population": True,
                    "excluded": False,
                    "outcome": float(i + 1 + m % 3),
                    "expected": 5.0,
                    "exposure": None,
                }
            )
    frame = pd.DataFrame(rows)
    frame["exposure"] = frame["exposure"].astype(float)
    return frame


def test_rolling_windows_sum_the_months_to_the_latest_complete_one(warehouse) -> None:
    import ibis

    long = _long(30)  # January 2023 to June 2025
    warehouse.write("quality__measure_long", ibis.memtable(long))
    counts = count_rows(warehouse.table("quality__measure_long"))
    # Data end 20 June 2025: June is incomplete, the windows end in May 2025.
    agg = aggregate(counts, rolling_end=date(2025, 6, 20))
    system = agg[agg["level"] == "system"].set_index("period_type")
    r12, r24 = system.loc["rolling12"], system.loc["rolling24"]
    assert pd.Timestamp(r12["period_start"]) == pd.Timestamp("2024-06-01")
    assert pd.Timestamp(r24["period_start"]) == pd.Timestamp("2023-06-01")
    months = pd.to_datetime(long["period_month"])
    in12 = long[(months >= "2024-06-01") & (months <= "2025-05-01")]
    assert r12["denominator"] == len(in12) == 120
    assert r12["numerator"] == in12["outcome"].sum()
    assert r12["median"] == float(np.median(in12["outcome"]))  # exact, from the histograms
    assert r24["denominator"] == 240
    # Calendar periods are unchanged by the rolling ones.
    assert (agg["period_type"] == "year").sum() == len(
        aggregate(counts).query("period_type == 'year'")
    )


def test_no_rolling_window_the_data_do_not_cover(warehouse) -> None:
    import ibis

    warehouse.write("quality__measure_long", ibis.memtable(_long(18)))  # to June 2024
    agg = aggregate(
        count_rows(warehouse.table("quality__measure_long")), rolling_end=date(2024, 6, 30)
    )
    kinds = set(agg["period_type"])
    assert "rolling12" in kinds and "rolling24" not in kinds
    assert "rolling12" not in set(
        aggregate(count_rows(warehouse.table("quality__measure_long")))["period_type"]
    )
