"""Contract-shaped quality__* tables for the web app's tests and benchmark.

Writes the tables the measures module produces (docs in the issue's interface: quality__measure,
quality__measure_long, quality__measure_result, quality__signal, quality__model_card,
quality__build_run) plus fhir__ingest_run and fhir__quarantine, from a small synthetic system:
2 sites, 4 departments, 6 units, 24 practitioners, ~4,000 stays over ``months`` months. The
numbers are random but consistent (results are aggregates of the long rows), so a drill-down
shows exactly the patients behind a number. The real pipeline (cmo demo) replaces this in the
end-to-end tests; see tests/web/conftest.py ``results_warehouse``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SITES: dict[str, str] = {"S1": "Riverside Hospital", "S2": "Hillcrest Hospital"}
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "D-MED": ("S1", "Medicine"),
    "D-SUR": ("S1", "Surgery"),
    "D-CAR": ("S2", "Cardiology"),
    "D-ORT": ("S2", "Orthopaedics"),
}
UNITS: dict[str, tuple[str, str]] = {
    "U-4W": ("D-MED", "4 West"),
    "U-5E": ("D-MED", "5 East"),
    "U-OR": ("D-SUR", "Surgical ward"),
    "U-CCU": ("D-CAR", "Coronary care"),
    "U-C2": ("D-CAR", "Cardiac step-down"),
    "U-ORT": ("D-ORT", "Ortho ward"),
}
MEASURES: list[dict[str, Any]] = [
    dict(
        measure_id="mort_inpatient",
        version="2026.1",
        title="Inpatient mortality",
        description="Deaths during the stay among inpatient discharges.",
        unit_of_analysis="inpatient stay",
        method="Logistic risk model; O/E with exact Poisson CI.",
        citation="AHRQ IQI 91 (Mortality for Selected Inpatient Conditions), v2024",
        direction="lower",
        target=0.02,
        kind="proportion",
        risk_adjusted=True,
        unit="%",
    ),
    dict(
        measure_id="readm_30d",
        version="2026.1",
        title="30-day readmission",
        description="Unplanned readmission within 30 days of discharge.",
        unit_of_analysis="index stay",
        method="Logistic risk model; O/E with exact Poisson CI.",
        citation="CMS Hospital-Wide All-Cause Unplanned Readmission Measure, v12",
        direction="lower",
        target=0.15,
        kind="proportion",
        risk_adjusted=True,
        unit="%",
    ),
    dict(
        measure_id="los",
        version="2026.1",
        title="Length of stay",
        description="Days from admission to discharge, against the MS-DRG geometric mean LOS.",
        unit_of_analysis="inpatient stay",
        method="Observed over GMLOS (CMS Table 5).",
        citation="CMS IPPS Final Rule Table 5, FY2026",
        direction="lower",
        target=None,
        kind="mean",
        risk_adjusted=True,
        unit="days",
    ),
]


def _long(seed: int, months: int, start: date) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 170 * months
    month_idx = rng.integers(0, months, n)
    periods = pd.date_range(start, periods=months, freq="MS")
    units = list(UNITS)
    unit = rng.choice(units, n)
    dept = np.array([UNITS[u][0] for u in unit])
    site = np.array([DEPARTMENTS[d][0] for d in dept])
    # Six practitioners per department (P001-P006 in the first, ...), as in a real medical staff.
    dept_index = np.array([list(DEPARTMENTS).index(d) for d in dept])
    prac = np.array([f"P{int(i):03d}" for i in dept_index * 6 + rng.integers(1, 7, n)])
    day = rng.integers(0, 28, n)
    discharge = periods[month_idx] + pd.to_timedelta(day, unit="D")
    stays = pd.DataFrame(
        {
            "stay_id": [f"E{i:06d}" for i in range(n)],
            "patient_id": [f"PT{int(x):05d}" for x in rng.integers(0, n // 2, n)],
            "period_month": periods[month_idx].date,
            "discharge_date": discharge.date,
            "site_id": site,
            "department_id": dept,
            "unit_id": unit,
            "practitioner_id": prac,
        }
    )
    frames = []
    for m in MEASURES:
        f = stays.copy()
        f["measure_id"] = m["measure_id"]
        f["in_population"] = True
        f["excluded"] = rng.random(n) < 0.03
        f["exclusion_reason"] = f["excluded"].map({True: "transfer to acute care", False: None})
        if m["kind"] == "mean":
            f["expected"] = rng.uniform(2.5, 6.0, n)
            f["outcome"] = np.round(f["expected"] * rng.lognormal(0, 0.3, n), 0)
        else:
            base = 0.025 if m["measure_id"] == "mort_inpatient" else 0.14
            p = np.clip(rng.beta(2, 2 / base, n), 0.001, 0.9)
            boost = np.where(
                (prac == "P007") | ((unit == "U-CCU") & (month_idx >= months - 3)), 2.5, 1.0
            )
            f["expected"] = p
            f["outcome"] = (rng.random(n) < np.clip(p * boost, 0, 1)).astype(float)
        f["evidence_date"] = f["discharge_date"]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _poisson_ci(o: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import chi2

    lo = np.where(o > 0, chi2.ppf(0.025, 2 * o) / 2, 0.0) / e
    hi = chi2.ppf(0.975, 2 * (o + 1)) / 2 / e
    return lo, hi


def _results(long: pd.DataFrame) -> pd.DataFrame:
    df = long[long["in_population"] & ~long["excluded"]].copy()
    pm = pd.to_datetime(df["period_month"])
    df["month"] = pm.dt.date
    df["quarter"] = pm.dt.to_period("Q").dt.start_time.dt.date
    df["year"] = pm.dt.to_period("Y").dt.start_time.dt.date
    df["system"] = "all"
    names = {
        "all": "All sites",
        **SITES,
        **{k: v[1] for k, v in DEPARTMENTS.items()},
        **{k: v[1] for k, v in UNITS.items()},
    }
    levels = {
        "system": "system",
        "site": "site_id",
        "department": "department_id",
        "unit": "unit_id",
        "practitioner": "practitioner_id",
    }
    out = []
    for ptype in ("month", "quarter", "year"):
        for level, col in levels.items():
            g = df.groupby(["measure_id", ptype, col]).agg(
                denominator=("stay_id", "size"),
                numerator=("outcome", "sum"),
                expected=("expected", "sum"),
            )
            g = g.reset_index().rename(columns={ptype: "period_start", col: "unit_id"})
            g["period_type"], g["level"] = ptype, level
            out.append(g)
    r = pd.concat(out, ignore_index=True)
    r["unit_name"] = [names.get(u, f"Dr {u}") for u in r["unit_id"]]
    # The site a unit belongs to (practitioners: the site of most of their stays), as the
    # measures module writes it.
    prac_site = df.groupby("practitioner_id")["site_id"].agg(lambda s: s.mode().iloc[0])
    site_of: dict[Any, Any] = {
        **{s: s for s in SITES},
        **{d: v[0] for d, v in DEPARTMENTS.items()},
        **{u: DEPARTMENTS[v[0]][0] for u, v in UNITS.items()},
        **prac_site.to_dict(),
    }
    r["site_id"] = [site_of.get(u) for u in r["unit_id"]]
    r["rate"] = r["numerator"] / r["denominator"]
    r["oe"] = r["numerator"] / r["expected"]
    r["ci_low"], r["ci_high"] = _poisson_ci(r["numerator"].to_numpy(), r["expected"].to_numpy())
    overall = df.groupby("measure_id")["outcome"].sum() / df.groupby("measure_id")["expected"].sum()
    r["rsr"] = r["oe"] * r["measure_id"].map(df.groupby("measure_id")["outcome"].mean())
    del overall
    r["denominator"] = r["denominator"].astype("int64")
    cols = [
        "measure_id",
        "period_type",
        "period_start",
        "level",
        "unit_id",
        "unit_name",
        "denominator",
        "numerator",
        "rate",
        "expected",
        "oe",
        "ci_low",
        "ci_high",
        "rsr",
        "site_id",
    ]
    return r[cols]


def _signals(last: date) -> pd.DataFrame:
    rows = [
        (
            "mort_inpatient",
            "unit",
            "U-CCU",
            "Coronary care",
            last,
            "sigma",
            "worse",
            "O/E 2.6 above the upper 3-sigma limit",
            "S2",
        ),
        (
            "mort_inpatient",
            "practitioner",
            "P007",
            "Dr P007",
            last,
            "funnel_99_8",
            "worse",
            "O/E beyond the 99.8% funnel limit",
            "S1",
        ),
        (  # a practitioner of D-CAR, the test chair's department
            "readm_30d",
            "practitioner",
            "P014",
            "Dr P014",
            last,
            "funnel_95",
            "worse",
            "O/E beyond the 95% funnel limit",
            "S2",
        ),
        (
            "readm_30d",
            "system",
            "all",
            "All sites",
            last,
            "runs",
            "better",
            "8 months below the centre line",
            None,
        ),
    ]
    cols = [
        "measure_id",
        "level",
        "unit_id",
        "unit_name",
        "period_start",
        "kind",
        "direction",
        "detail",
        "site_id",
    ]
    return pd.DataFrame(rows, columns=cols)


def _cards(long: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for m in MEASURES:
        if m["kind"] != "proportion":
            continue
        f = long[long["measure_id"] == m["measure_id"]]
        dec = pd.qcut(f["expected"], 10, labels=False, duplicates="drop")
        cal = (
            f.groupby(dec)
            .agg(
                expected_rate=("expected", "mean"),
                observed_rate=("outcome", "mean"),
                n=("outcome", "size"),
            )
            .reset_index(drop=True)
        )
        card = {
            "n": int(len(f)),
            "events": int(f["outcome"].sum()),
            "c_statistic": 0.78,
            "c_statistic_ci": [0.75, 0.81],
            "calibration": [
                {"decile": i + 1, **{k: float(v) for k, v in r.items()}} for i, r in cal.iterrows()
            ],
            "coefficients": [
                {
                    "term": "age per 10 y",
                    "estimate": 0.41,
                    "odds_ratio": 1.51,
                    "ci_low": 1.39,
                    "ci_high": 1.63,
                }
            ],
        }
        rows.append(
            {
                "measure_id": m["measure_id"],
                "built_at": datetime(2026, 11, 1, 3, 0),
                "card_json": json.dumps(card),
            }
        )
    return pd.DataFrame(rows)


# A few ICD-10-CM codes with their displays (CMS ICD-10-CM FY2026 tabular list), dotted as
# FHIR sources usually send them; the core layer keeps them undotted.
DIAGNOSES: dict[str, str] = {
    "I21.4": "Non-ST elevation (NSTEMI) myocardial infarction",
    "I50.9": "Heart failure, unspecified",
    "J18.9": "Pneumonia, unspecified organism",
    "A41.9": "Sepsis, unspecified organism",
    "N17.9": "Acute kidney failure, unspecified",
    "E11.9": "Type 2 diabetes mellitus without complications",
    "I10": "Essential (primary) hypertension",
    "N18.30": "Chronic kidney disease, stage 3 unspecified",
}


def _stay_tables(long: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """core__inpatient_stay, core__stay_diagnosis and fhir__condition for the sample's stays:
    stay ``E{i}`` has the principal diagnosis ``DIAGNOSES[i % 4]`` and ``i % 3`` secondary ones
    from the last four, admitted ``i % 9 + 1`` days before discharge (tests assert these)."""
    stays = long.drop_duplicates("stay_id")[["stay_id", "patient_id", "discharge_date"]]
    codes = list(DIAGNOSES)
    core, dx, cond = [], [], []
    for sid, pid, discharge in stays.itertuples(index=False):
        i = int(sid[1:])
        principal = codes[i % 4]
        secondary = [codes[4 + (i + k) % 4] for k in range(i % 3)]
        core.append(
            {
                "stay_id": sid,
                "patient_id": pid,
                "admit_date": pd.Timestamp(discharge) - pd.Timedelta(days=i % 9 + 1),
                "discharge_date": pd.Timestamp(discharge),
                "principal_dx": principal.replace(".", ""),
                "secondary_dx": [c.replace(".", "") for c in secondary],
            }
        )
        for code in [principal, *secondary]:
            dx.append(
                {
                    "stay_id": sid,
                    "code": code.replace(".", ""),
                    "is_principal": code == principal,
                    "poa": "y" if code == principal else ("n" if i % 2 else "y"),
                }
            )
    for n, (code, display) in enumerate(DIAGNOSES.items()):
        cond.append({"id": f"C{n}", "code": code, "code_display": display})
    stay_frame = pd.DataFrame(core)
    for col in ("admit_date", "discharge_date"):
        stay_frame[col] = stay_frame[col].dt.date
    return {
        "core__inpatient_stay": stay_frame,
        "core__stay_diagnosis": pd.DataFrame(dx),
        "fhir__condition": pd.DataFrame(cond),
    }


def write_sample_results(
    path: Path, *, seed: int = 0, months: int = 24, start: date = date(2024, 11, 1)
) -> Path:
    """Write the contract-shaped tables into the DuckDB file ``path`` and return it."""
    from cmo.warehouse import connect

    long = _long(seed, months, start)
    res = _results(long)
    last = max(res.loc[res["period_type"] == "month", "period_start"])
    build = pd.DataFrame(
        {
            "run_id": "b1",
            "started": datetime(2026, 11, 1, 3, 0),
            "finished": datetime(2026, 11, 1, 3, 1),
            "as_of": date(2026, 11, 1),
            "step": ["stays", "mort_inpatient", "readm_30d", "los", "signals"],
            "seconds": [4.2, 2.1, 2.8, 1.1, 0.6],
            "step_order": [1, 2, 3, 4, 5],
        }
    )
    ingest = pd.DataFrame(
        {
            "run_id": ["r1"],
            "started": [datetime(2026, 11, 1, 2, 50)],
            "files": [12],
            "rows": [812345],
            "quarantined": [2],
            "seconds": [38.5],
        }
    )
    quarantine = pd.DataFrame(
        {
            "run_id": ["r1", "r1"],
            "file": ["Observation.ndjson"] * 2,
            "line": [1041, 2210],
            "resource_type": ["Observation"] * 2,
            "reason": ["invalid JSON", "missing id"],
            "text": ['{"resourceType": "Obs', '{"resourceType":"Observation"}'],
        }
    )
    wh = connect(path)
    try:
        wh.write("quality__measure", pd.DataFrame(MEASURES))
        wh.write("quality__measure_long", long)
        wh.write("quality__measure_result", res)
        wh.write("quality__signal", _signals(last))
        wh.write("quality__model_card", _cards(long))
        wh.write("quality__build_run", build)
        wh.write("fhir__ingest_run", ingest)
        wh.write("fhir__quarantine", quarantine)
        for name, frame in _stay_tables(long, seed).items():
            wh.write(name, frame)
    finally:
        wh.close()
    return path


def build_results_warehouse(path: Path) -> Path:
    """The results warehouse the web tests read (tests/web): the contract-shaped sample above,
    whose exact names and numbers the tests assert. ``build_demo_warehouse`` is the real one."""
    return write_sample_results(path)


def build_demo_warehouse(path: Path, *, patients: int = 2000, seed: int = 7) -> Path:
    """The real pipeline into ``path``: ``cmo demo generate`` -> ingest -> measures build.

    About 6 s for 2,000 patients on 2 cores; the browser tests (tests/e2e) read it.
    """
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.warehouse import connect

    export = generate(
        path.parent / "demo-export",
        patients=patients,
        seed=seed,
        start=date(2023, 1, 1),
        months=24,
        progress=False,
    )
    wh = connect(path)
    try:
        ingest([export], wh, progress=False)
        run(wh, progress=False)
    finally:
        wh.close()
    return path
