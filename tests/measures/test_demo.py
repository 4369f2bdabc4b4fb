"""On demo data (cmo demo generate, 10k patients, seed 42): the planted signals come out.

Given the generator's planted orthopaedic surgeon (readmissions ~3x peers) and LOS-outlier
hospitalist (LOS x1.4), when the export is ingested and built, then both practitioners' O/E
over the whole window are above 1 with exact Poisson 95% CIs excluding 1 (and highest among
their peers), and the system crude rates fall in the generator's documented ranges
(docs/demo-data.md: in-hospital mortality 2-3%, 30-day readmission 13-16%, mean LOS 4-5 d).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from cmo.stats.intervals import poisson_oe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict]]:
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.warehouse import connect

    root = tmp_path_factory.mktemp("demo")
    generate(
        root / "fhir", patients=10_000, seed=42, start=date(2023, 1, 1), months=24, progress=False
    )
    signals = json.loads((root / "fhir" / "signals.json").read_text())
    wh = connect(root / "warehouse.duckdb")
    assert ingest([root / "fhir"], wh, progress=False).quarantined == 0
    run(wh, progress=False)
    yield wh, {s["id"]: s for s in signals["signals"]}
    wh.close()


def _practitioners(wh, measure_id: str):
    t = wh.table("quality__measure_long")
    pop = t.filter((t.measure_id == measure_id) & t.in_population & ~t.excluded)
    g = pop.group_by(["site_id", "practitioner_id"]).aggregate(
        n=pop.stay_id.count(), o=pop.outcome.sum(), e=pop.expected.sum()
    )
    frame = g.to_pandas()
    frame["oe"] = frame.o / frame.e
    return frame


@pytest.mark.parametrize(
    ("signal", "measure"), [("surgeon-complications", "READM30"), ("physician-los", "LOS")]
)
def test_planted_practitioner_is_above_one_with_ci_excluding_one(demo, signal, measure):
    wh, signals = demo
    who = signals[signal]["practitioner_id"]
    frame = _practitioners(wh, measure)
    row = frame[frame.practitioner_id == who].iloc[0]
    lo, hi = poisson_oe(row.o, row.e)
    assert row.oe > 1 and lo > 1, (row.oe, lo, hi)
    # ... and the highest O/E among the practitioners of that site with at least 20 cases.
    peers = frame[(frame.site_id == row.site_id) & (frame.n >= 20)]
    assert peers.sort_values("oe").iloc[-1].practitioner_id == who


def test_practitioner_results_and_signals_flag_them(demo):
    wh, signals = demo
    surgeon = signals["surgeon-complications"]["practitioner_id"]
    los_doc = signals["physician-los"]["practitioner_id"]
    sig = wh.table("quality__signal").to_pandas()
    flagged = sig[(sig.direction == "worse") & sig.kind.str.startswith("funnel")]
    assert los_doc in set(flagged[flagged.measure_id == "LOS"].unit_id)
    res = wh.table("quality__measure_result").to_pandas()
    year = res[
        (res.measure_id == "READM30")
        & (res.level == "practitioner")
        & (res.period_type == "year")
        & (res.unit_id == surgeon)
    ]
    assert (year.oe > 1).all()


def test_system_crude_rates_in_documented_ranges(demo):
    wh, _signals = demo
    t = wh.table("quality__measure_long")
    pop = t.filter(t.in_population & ~t.excluded)
    rates = pop.group_by("measure_id").aggregate(rate=pop.outcome.mean()).to_pandas()
    rate = dict(zip(rates.measure_id, rates.rate, strict=True))
    assert 0.02 <= rate["IMORT"] <= 0.03
    assert 0.13 <= rate["READM30"] <= 0.16
    assert 4.0 <= rate["LOS"] <= 5.0
