"""Signals: false alarms under the null and detection of the planted signals (issue 13).

1. **Null simulation.** Seed 1's demo is built; then, ``REPLICATES`` times, every
   risk-adjusted row of ``quality__measure_long`` gets a new outcome drawn from the model's
   own expected value (risk-adjusted proportions - IMORT, MORT30, READM30, COMPL, the
   risk-adjusted PSIs - Bernoulli(expected); LOS: days =
   expected x Gamma(k, 1/k), k from the demo's observed O/E spread), so there are no true
   differences anywhere; the signal engine (``cmo.measures.build.result_frame`` and
   ``signal_frames``, exactly the build's) runs on them. Reported per measure x level x
   method: tests (eligible chart points, series, funnel rows, CUSUM charts), false "worse"
   flags per test and per build, against the level each method states.
2. **Detection.** ``SEEDS`` demos (``PATIENTS`` patients, the demo's default size, 24 months)
   are built as the demo does, and each planted practitioner and unit signal of
   ``signals.json`` counts as detected when a "worse" signal names one of its measures
   (``PLANT_MEASURES``), its level and unit: for a practitioner, a signal that proposes an FPPE
   (``cmo.review.rules.signal_proposes``: the funnel's 99.8% limit with BH q < 0.05, or a
   CUSUM alarm); the ICU one, a funnel of a window that overlaps its months or its site's
   CUSUM alarm dated in them. A unit's "worse" funnel signal on a window that ends before the
   plant began is counted as an early (false) flag.

5,000 patients are too few for any conservative rule: over 24 months the planted surgeon has
~45 operations with ~4 in-stay complications (1.9 expected) and the ICU's last 6 months ~25
stays; so the seeds use the demo's default size (``cmo.demo.DEFAULT_PATIENTS``).

``python -m benchmarks signals [--quick]`` (quick: 2 seeds of 2,000 patients, 3 null
replicates).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PATIENTS = 20_000  # cmo.demo.DEFAULT_PATIENTS
SEEDS = (1, 2, 3, 4, 5)
REPLICATES = 10
# The measures a plant shows in (signals.json names READM30 and "complications": COMPL).
PLANT_MEASURES = {"surgeon-complications": ("READM30", "COMPL")}
START = date(2023, 1, 1)
MONTHS = 24
# The false "worse" rate each method states per test (one-sided share of its two-sided level).
STATED = {
    "sigma": 0.00135,  # 3 sigma
    "runs": 0.05,  # Anhøj rules: ~5% of random series of this length (both directions)
    "funnel_95": 0.025,  # departments and units: outside 95%
    "funnel_practitioner": 0.001,  # outside 99.8% AND BH q < 0.05
    "cusum": 1 - np.exp(-1 / 20),  # ARL0 = 20 site-years of cases
}


def _build_demo(folder: Path, patients: int, seed: int) -> Any:
    """Generate, ingest and build one demo into ``folder``; the open warehouse."""
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run as build
    from cmo.warehouse import connect

    out = folder / "export"
    generate(out, patients=patients, seed=seed, start=START, months=MONTHS, progress=False)
    wh = connect(folder / "warehouse.duckdb")
    ingest(sorted(out.glob("*.ndjson")), wh, progress=False)
    build(wh, progress=False)
    return wh


def _planted(folder: Path) -> list[dict[str, Any]]:
    import json

    doc = json.loads((folder / "export" / "signals.json").read_text())
    keep = []
    for s in doc["signals"]:
        measures = PLANT_MEASURES.get(s["id"], (s["measure"].split(";")[0].split(" ")[0],))
        if not set(measures) & {"IMORT", "READM30", "LOS", "MORT30", "COMPL"}:
            continue  # e.g. CLABSI: planted for the NHSN measures, scored elsewhere
        unit = s.get("practitioner_id") or s.get("unit_id")
        keep.append({**s, "measure_ids": measures, "unit": unit})
    return keep


def _window_end(signals: pd.DataFrame) -> pd.Series:
    """The first day after each funnel signal's window."""
    from cmo.measures.results import FUNNEL_WINDOWS

    start = pd.to_datetime(signals["period_start"])
    months = signals["window"].map(FUNNEL_WINDOWS).fillna(12).astype(int)
    return pd.Series(
        [s + pd.DateOffset(months=int(m)) for s, m in zip(start, months, strict=True)],
        index=signals.index,
        dtype="datetime64[ns]",
    )


def _scored(signals: pd.DataFrame, planted: dict[str, Any]) -> tuple[bool, bool]:
    """(detected, flagged before it began) of one plant."""
    from cmo.review.rules import signal_proposes

    worse = signals[
        (signals["direction"] == "worse") & signals["measure_id"].isin(planted["measure_ids"])
    ]
    hit = worse[(worse["level"] == planted["level"]) & (worse["unit_id"] == planted["unit"])]
    if planted["level"] == "practitioner":
        proposes = [signal_proposes(r)[0] for r in hit.to_dict("records")]
        return bool(any(proposes)), False
    if planted["level"] != "unit":
        return not hit.empty, False
    begin = pd.Timestamp(planted["period_start"])
    funnels = hit[hit["kind"].astype(str).str.startswith("funnel")]
    ends = _window_end(funnels)
    inside = funnels[(ends > begin).to_numpy()]
    early = funnels[(ends <= begin).to_numpy()]
    site = worse[(worse["kind"] == "cusum") & (worse["unit_id"] == planted["site_id"])]
    site = site[pd.to_datetime(site["period_start"]) >= begin]
    return not inside.empty or not site.empty, not early.empty


def _null_long(long: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Outcomes drawn from the expected values: no true differences anywhere."""
    out = long.copy()
    pop = out["in_population"].fillna(False) & ~out["excluded"].fillna(False)
    has_e = pop & out["expected"].notna()
    binary = has_e & out["measure_id"].isin(_risk_adjusted_proportions())
    p = out.loc[binary, "expected"].clip(0, 1).to_numpy(float)
    out.loc[binary, "outcome"] = (rng.random(p.size) < p).astype(float)
    los = has_e & (out["measure_id"] == "LOS") & (out["expected"] > 0)
    if los.any():
        ratio = (out.loc[los, "outcome"] / out.loc[los, "expected"]).to_numpy(float)
        cv2 = np.var(ratio) / np.mean(ratio) ** 2
        k = 1 / max(cv2, 1e-6)
        e = out.loc[los, "expected"].to_numpy(float)
        out.loc[los, "outcome"] = e * rng.gamma(k, 1 / k, e.size)
    return out


def _risk_adjusted_proportions() -> list[str]:
    from cmo.measures.spec import registry

    return [
        mid
        for mid, m in registry().items()
        if m.spec.kind == "proportion" and m.spec.risk_adjusted and m.risk_model
    ]


def _tests_and_flags(frames: dict[str, pd.DataFrame], final: pd.DataFrame) -> list[dict[str, Any]]:
    """Per measure x level x method: eligible tests and false "worse" flags of one build."""
    from cmo.measures import results as res
    from cmo.measures.spec import registry

    measures = registry()
    loud = [m for m, spec in measures.items() if res.signalled(spec)]
    rows: list[dict[str, Any]] = []
    sig = frames["quality__signal"]
    worse = sig[sig["direction"] == "worse"]
    charts = frames["quality__chart_point"]
    charts = charts[charts["measure_id"].isin(loud)]
    ok = charts[~charts["small_cell"] & charts["lookback_complete"]]
    for (mid, level), g in ok.groupby(["measure_id", "level"]):
        flags = worse[(worse.measure_id == mid) & (worse.level == level)]
        rows.append(
            {
                "measure_id": mid,
                "level": level,
                "method": "sigma",
                "tests": len(g),
                "worse": int((flags.kind == "sigma").sum()),
            }  # fmt: skip
        )
        series = g.groupby("unit_id").ngroups
        rows.append(
            {
                "measure_id": mid,
                "level": level,
                "method": "runs",
                "tests": series,
                "worse": int((flags.kind == "runs").sum()),
            }  # fmt: skip
        )
    funnels = frames["quality__funnel_point"]
    funnels = funnels[funnels["measure_id"].isin(loud)]
    ok = funnels[~funnels["small_cell"] & funnels["lookback_complete"]]
    for (mid, level, window), g in ok.groupby(["measure_id", "level", "window"]):
        flags = worse[
            (worse.measure_id == mid)
            & (worse.level == level)
            & (worse.window == window)
            & worse.kind.str.startswith("funnel")
        ]
        method = "funnel_practitioner" if level == "practitioner" else "funnel_95"
        rows.append(
            {
                "measure_id": mid,
                "level": level,
                "method": f"{method}:{window}",
                "tests": len(g),
                "worse": len(flags),
            }  # fmt: skip
        )
    # A CUSUM runs for every site with expected values of every risk-adjusted proportion
    # (cusum_signals), with or without a site chart (a rare PSI has few chartable months).
    cusum = worse[worse.kind == "cusum"]
    expected = pd.to_numeric(final["expected"], errors="coerce").fillna(0)
    site_rows = final[(final["level"] == "site") & (expected > 0)]
    for mid in [m for m in _risk_adjusted_proportions() if m in loud]:
        sites = site_rows[site_rows.measure_id == mid].unit_id.nunique()
        if sites:
            rows.append(
                {
                    "measure_id": mid,
                    "level": "site",
                    "method": "cusum",
                    "tests": sites,
                    "worse": int((cusum.measure_id == mid).sum()),
                }  # fmt: skip
            )
    return rows


def _null(wh: Any, replicates: int) -> pd.DataFrame:
    import ibis

    from cmo.measures import api, core
    from cmo.measures.build import result_frame, signal_frames
    from cmo.measures.spec import registry

    measures = registry()
    cards = {m: api.model_card(wh, m) for m in _risk_adjusted_proportions()}
    fitted = {m: card["model"] for m, card in cards.items() if card is not None}
    end = core.data_end(wh, None)
    long = wh.table("quality__measure_long").to_pandas()
    rng = np.random.default_rng(20261206)
    rows = []
    for rep in range(replicates):
        wh.write("bench__null_long", ibis.memtable(_null_long(long, rng)))
        sim = wh.table("bench__null_long")
        final = result_frame(wh, sim, measures, fitted)
        frames = signal_frames(wh, final, sim, measures, end)
        for r in _tests_and_flags(frames, final):
            rows.append({**r, "replicate": rep})
    return pd.DataFrame(rows)


def _summary(null: pd.DataFrame, replicates: int) -> pd.DataFrame:
    g = null.groupby(["measure_id", "level", "method"], as_index=False)[["tests", "worse"]].sum()
    g["tests_per_build"] = g["tests"] / replicates
    g["worse_per_build"] = g["worse"] / replicates
    g["worse_per_test"] = np.where(g["tests"] > 0, g["worse"] / g["tests"].clip(lower=1), np.nan)
    g["stated"] = g["method"].str.split(":").str[0].map(STATED)
    return g


def run(quick: bool) -> dict[str, Any]:
    seeds = SEEDS[:2] if quick else SEEDS
    replicates = 3 if quick else REPLICATES
    patients = 2000 if quick else PATIENTS
    tmp = Path(tempfile.mkdtemp(prefix="cmo-bench-signals-"))
    detection: dict[str, list[bool]] = {}
    early: dict[str, list[bool]] = {}
    began = time.perf_counter()
    null = pd.DataFrame()
    try:
        for i, seed in enumerate(seeds):
            folder = tmp / f"seed{seed}"
            wh = _build_demo(folder, patients, seed)
            try:
                signals = wh.table("quality__signal").to_pandas()
                for planted in _planted(folder):
                    hit, before = _scored(signals, planted)
                    detection.setdefault(planted["id"], []).append(hit)
                    early.setdefault(planted["id"], []).append(before)
                if i == 0:
                    t0 = time.perf_counter()
                    null = _null(wh, replicates)
                    null_seconds = time.perf_counter() - t0
            finally:
                wh.close()
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = _summary(null, replicates)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(summary.round(5).to_string(index=False))
    total = summary["worse_per_build"].sum()
    print(
        f"null: {replicates} builds of seed {seeds[0]}, {total:.2f} false 'worse' flags per build"
    )
    for sid, hits in detection.items():
        print(
            f"detected {sid}: {sum(hits)} of {len(hits)} seeds "
            f"(flagged before it began: {sum(early[sid])})"
        )
    return {
        "patients": patients,
        "months": MONTHS,
        "seeds": list(seeds),
        "null_replicates": replicates,
        "null_seconds": round(null_seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "false_worse_per_build": round(float(total), 3),
        "null": summary.round(6).to_dict("records"),
        "detected": {sid: f"{sum(h)}/{len(h)}" for sid, h in detection.items()},
        "flagged_before": {sid: f"{sum(h)}/{len(h)}" for sid, h in early.items()},
    }
