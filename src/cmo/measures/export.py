"""Exports of ``quality__measure_result``: FHIR R4 MeasureReport (summary) NDJSON, CSV, Parquet.

One MeasureReport per measure x period x level; each unit of the level is a ``group`` (code =
the unit id) with denominator and numerator populations and the rate as ``measureScore``.
Expected, O/E, its 95% CI and the risk-standardised rate travel as extensions of the group.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from cmo.measures.results import PERIOD_MONTHS  # calendar and rolling periods

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

FORMATS = ("measurereport", "csv", "parquet")
CANONICAL = "https://cmo.health/fhir"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"


def _period_end(start: date, period_type: str) -> date:
    total = start.year * 12 + start.month - 1 + PERIOD_MONTHS[period_type]
    nxt = date(total // 12, total % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _decimal(url: str, value: Any) -> dict[str, Any] | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return {
        "url": f"{CANONICAL}/StructureDefinition/{url}",
        "valueDecimal": round(float(value), 10),
    }


def _group(row: dict[str, Any]) -> dict[str, Any]:
    ext = [
        e
        for e in (
            _decimal("expected", row["expected"]),
            _decimal("observed-expected-ratio", row["oe"]),
            _decimal("observed-expected-ci-low", row["ci_low"]),
            _decimal("observed-expected-ci-high", row["ci_high"]),
            _decimal("risk-standardized-rate", row["rsr"]),
            # Device days, patient days or survey responders (results.md: exposure).
            _decimal("exposure", row.get("exposure")),
        )
        if e is not None
    ]
    group: dict[str, Any] = {
        "code": {
            "coding": [
                {
                    "system": f"{CANONICAL}/CodeSystem/{row['level']}",
                    "code": str(row["unit_id"]),
                    "display": str(row["unit_name"] or row["unit_id"]),
                }
            ]
        },
        "population": [
            {
                "code": {"coding": [{"system": POPULATION, "code": "denominator"}]},
                "count": int(row["denominator"]),
            },
        ],
    }
    num = row["numerator"]
    if num is not None and not (isinstance(num, float) and math.isnan(num)):
        # No numerator when no row had an outcome (a survey cell without responders).
        group["population"].append(
            {
                "code": {"coding": [{"system": POPULATION, "code": "numerator"}]},
                "count": int(round(float(num))),
            }
        )
    rate = row["rate"]
    if rate is not None and not (isinstance(rate, float) and math.isnan(rate)):
        group["measureScore"] = {"value": round(float(rate), 10)}
    if ext:
        group["extension"] = ext
    return group


def measure_reports(results: pd.DataFrame, measures: pd.DataFrame) -> list[dict[str, Any]]:
    """MeasureReport resources (dicts) for every measure x period x level of ``results``."""
    spec = {r["measure_id"]: r for r in measures.to_dict("records")}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    reports = []
    keys = ["measure_id", "period_type", "period_start", "level"]
    for (mid, ptype, start, level), g in results.groupby(keys, sort=True):
        start_d = pd.Timestamp(str(start)).date()
        m = spec.get(mid, {})
        rid = hashlib.sha1(f"{mid}|{ptype}|{start_d}|{level}".encode()).hexdigest()[:16]
        reports.append(
            {
                "resourceType": "MeasureReport",
                "id": f"mr-{rid}",
                "status": "complete",
                "type": "summary",
                "measure": f"{CANONICAL}/Measure/{mid}|{m.get('version', '1.0')}",
                "date": now,
                "period": {
                    "start": start_d.isoformat(),
                    "end": _period_end(start_d, str(ptype)).isoformat(),
                },
                "group": [_group({str(k): v for k, v in r.items()}) for r in g.to_dict("records")],
            }
        )
        # improvementNotation only for a measure with a better direction (CMI: 'none').
        if m.get("direction") in ("lower", "higher"):
            code = "decrease" if m.get("direction") == "lower" else "increase"
            reports[-1]["improvementNotation"] = {"coding": [{"system": IMPROVEMENT, "code": code}]}
    return reports


def export(wh: Warehouse, fmt: str, out: Path, *, measure_id: str | None = None) -> list[Path]:
    """Write the results in ``fmt`` under the folder ``out``; returns the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if not wh.exists("quality__measure_result"):
        raise LookupError("no results yet: run `cmo measures run` first")
    t = wh.table("quality__measure_result")
    if measure_id:
        t = t.filter(t.measure_id == measure_id)
    results = t.to_pandas()
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path = out / "measure_result.csv"
        results.to_csv(path, index=False)
        return [path]
    if fmt == "parquet":
        path = out / "measure_result.parquet"
        results.to_parquet(path, index=False)
        return [path]
    measures = wh.table("quality__measure").to_pandas()
    path = out / "MeasureReport.ndjson"
    with path.open("wb") as fh:
        for report in measure_reports(results, measures):
            fh.write(orjson.dumps(report) + b"\n")
    return [path]
