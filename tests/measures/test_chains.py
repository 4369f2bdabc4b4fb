"""Given / when / then: transfer chains at the 24-hour edge (CMS: an admission to another acute
hospital on the same or the next day is a transfer).

Given one patient's acute stays at two sites, when ``cmo.measures.core.add_chains`` runs on a
real DuckDB, then an admission exactly 24 h after a discharge elsewhere continues the chain,
one second later does not, and neither does an admission at the same site or after a non-acute
stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd

from cmo.measures.core import add_chains

DAY = timedelta(days=1)
T0 = datetime(2024, 3, 1, 10, 0, 0)


def _chains(rows: list[tuple[str, str, str, datetime, datetime, bool]]) -> dict[str, dict]:
    frame = pd.DataFrame(
        rows, columns=["stay_id", "patient_id", "site_id", "admit_ts", "discharge_ts", "acute"]
    )
    frame["disposition_category"] = "home"
    frame["admit_source"] = None
    t = ibis.memtable(
        frame,
        schema={
            "stay_id": "string",
            "patient_id": "string",
            "site_id": "string",
            "admit_ts": "timestamp",
            "discharge_ts": "timestamp",
            "acute": "boolean",
            "disposition_category": "string",
            "admit_source": "string",
        },
    )
    con = ibis.duckdb.connect()
    out = con.to_pyarrow(add_chains(t)).to_pandas()
    return {r["stay_id"]: r for r in out.to_dict("records")}


def test_an_admission_elsewhere_exactly_24h_after_discharge_is_a_transfer():
    got = _chains(
        [
            ("a", "p1", "h1", T0, T0 + DAY, True),
            ("b", "p1", "h2", T0 + 2 * DAY, T0 + 3 * DAY, True),  # 24 h after a's discharge
        ]
    )
    assert got["b"]["chain_id"] == "a" and got["b"]["chain_seq"] == 2
    assert got["a"]["transfer_out"] and got["b"]["transfer_in"]
    assert got["a"]["chain_size"] == 2 and not got["a"]["chain_last"]


def test_one_second_past_24h_is_a_new_chain():
    got = _chains(
        [
            ("a", "p1", "h1", T0, T0 + DAY, True),
            ("b", "p1", "h2", T0 + 2 * DAY + timedelta(seconds=1), T0 + 3 * DAY, True),
        ]
    )
    assert got["b"]["chain_id"] == "b" and got["b"]["chain_size"] == 1
    assert not got["a"]["transfer_out"] and not got["b"]["transfer_in"]


def test_same_site_or_non_acute_never_links():
    got = _chains(
        [
            ("a", "p1", "h1", T0, T0 + DAY, True),
            ("b", "p1", "h1", T0 + DAY + timedelta(hours=2), T0 + 2 * DAY, True),  # same site
            ("c", "p2", "h1", T0, T0 + DAY, False),  # non-acute, then acute elsewhere
            ("d", "p2", "h2", T0 + DAY + timedelta(hours=1), T0 + 2 * DAY, True),
        ]
    )
    assert {k: v["chain_size"] for k, v in got.items()} == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert not any(v["transfer_in"] for v in got.values())
