"""The drill-down on a real demo build lists exactly the stays behind each number: for every
unit (stays that passed through it, as unit results count them), department and site of the
last two quarters, the rows not excluded add up to the result's denominator and numerator."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("measure_id", ["IMORT", "READM30"])
def test_drill_down_rows_add_up_to_the_result(e2e_warehouse: Path, measure_id: str) -> None:
    from cmo.measures import api
    from cmo.warehouse import connect

    with connect(e2e_warehouse, read_only=True) as wh:
        checked = 0
        for level in ("site", "department", "unit"):
            rows = api.results(wh, measure_id, period_type="quarter", level=level)
            # The last two quarters: the latest is often still filling up.
            recent = sorted({r["period_start"] for r in rows})[-2:]
            for r in (r for r in rows if r["period_start"] in recent):
                stays = api.long_rows(
                    wh,
                    measure_id,
                    period_type="quarter",
                    period_start=r["period_start"],
                    level=level,
                    unit_id=r["unit_id"],
                    limit=100_000,
                    details=False,
                )
                counted = [s for s in stays if not s["excluded"]]
                assert len(counted) == r["denominator"], (level, r["unit_id"])
                assert sum(s["outcome"] or 0 for s in counted) == r["numerator"]
                checked += 1
        # Unit rows overlap (a stay counts at every unit it passed through), so at least one
        # unit's stays include some discharged from another unit.
        units = api.results(wh, measure_id, period_type="year", level="unit")
        overlap = False
        for u in units:
            stays = api.long_rows(
                wh, measure_id, level="unit", unit_id=u["unit_id"], limit=100_000, details=False
            )
            overlap |= any(s["unit_id"] != u["unit_id"] for s in stays)
    assert checked > 10 and overlap
