"""Signals: false alarms under the null and detection of the planted signals (issue 13).

1. **Null simulation.** One small demo is built; then, ``REPLICATES`` times, every
   risk-adjusted row of ``quality__measure_long`` gets a new outcome drawn from the model's
   own expected value (IMORT, MORT30, READM30: Bernoulli(expected); LOS: days =
   expected x Gamma(k, 1/k), k from the demo's observed O/E spread), so there are no true
   differences anywhere; the signal engine (``cmo.measures.build.result_frame`` and
   ``signal_frames``, exactly the build's) runs on them. Reported per measure x level x
   method: tests (eligible chart points, series, funnel rows, CUSUM charts), false "worse"
   flags per test and per build, against the level each method states.
2. **Detection.** ``SEEDS`` demos (``PATIENTS`` patients, 24 months) are built as the demo
   does, and each planted practitioner and unit signal of ``signals.json`` counts as detected
   when a "worse" signal names its measure, level and unit (the ICU one: a funnel of a window
   that overlaps its months, or its site's CUSUM).

``python -m benchmarks signals [--quick]`` (quick: 2 seeds, 3 null replicates).
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

PATIENTS = 5000
SEEDS = (1, 2, 3, 4, 5)
REPLICATES = 20
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
        measure = s["measure"].split(";")[0].split(" ")[0]
        if measure not in ("IMORT", "READM30", "LOS", "MORT30"):
            continue  # e.g. CLABSI: not a measure of this build
        unit = s.get("practitioner_id") or s.get("unit_id")
        keep.append({**s, "measure_id": measure, "unit": unit})
    return keep


def _detected(signals: pd.DataFrame, planted: dict[str, Any]) -> bool:
    worse = signals[
        (signals["direction"] == "worse") & (signals["measure_id"] == planted["measure_id"])
    ]
    hit = worse[(worse["level"] == planted["level"]) & (worse["unit_id"] == planted["unit"])]
    if planted["level"] == "unit":
        begin = pd.Timestamp(planted["period_start"])
        hit = hit[pd.to_datetime(hit["period_start"]) >= begin - pd.DateOffset(months=23)]
        site = worse[(worse["kind"] == "cusum") & (worse["unit_id"] == planted["site_id"])]
        return not hit.empty or not site.empty
    return not hit.empty


def _null_long(long: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Outcomes drawn from the expected values: no true differences anywhere."""
    out = long.copy()
    pop = out["in_population"].fillna(False) & ~out["excluded"].fillna(False)
    has_e = pop & out["expected"].notna()
    binary = has_e & out["measure_id"].isin(["IMORT", "MORT30", "READM30"])
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


def _tests_and_flags(frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
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
    cusum = worse[worse.kind == "cusum"]
    for mid in ("IMORT", "MORT30", "READM30"):
        sites = charts[(charts.measure_id == mid) & (charts.level == "site")].unit_id.nunique()
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
    cards = {m: api.model_card(wh, m) for m in ("IMORT", "MORT30", "READM30")}
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
        for r in _tests_and_flags(frames):
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
    began = time.perf_counter()
    null = pd.DataFrame()
    try:
        for i, seed in enumerate(seeds):
            folder = tmp / f"seed{seed}"
            wh = _build_demo(folder, patients, seed)
            try:
                signals = wh.table("quality__signal").to_pandas()
                for planted in _planted(folder):
                    detection.setdefault(planted["id"], []).append(_detected(signals, planted))
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
        print(f"detected {sid}: {sum(hits)} of {len(hits)} seeds")
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
    }
