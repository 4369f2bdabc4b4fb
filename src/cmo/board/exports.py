"""Exports of the board scorecard for analysts: CSV (the scorecard rows as the report shows
them) and FHIR R4 MeasureReport (summary) NDJSON of the quarter's system and site results
(``cmo.measures.export.measure_reports``), both under the CMS cell-size rule: a population
count of 1–10 is left out and marked with the FHIR ``data-absent-reason`` extension (code
``masked``), and so is the score derived from it."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pandas as pd

from cmo.board import deid, services
from cmo.board import reads as r

CSV_COLUMNS = [
    "measure_id",
    "title",
    "group",
    "period",
    "site",
    "cases",
    "value",
    "oe",
    "oe_ci_low",
    "oe_ci_high",
    "target",
    "target_source",
    "prior_quarter",
    "same_quarter_last_year",
    "status",
    "suppressed",
]
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
RESULT_COLUMNS = [
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
]


def scorecard_csv(numbers: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    meta = numbers["meta"]
    for x in numbers["scorecard"]:
        w.writerow(
            [
                x["measure_id"],
                x["title"],
                x["group"],
                meta["period"],
                meta["site"] or "all",
                x["n"] if x["n"] is not None else "",
                _v(x["value"]),
                _v(x["oe"]),
                _v(x["ci_low"]),
                _v(x["ci_high"]),
                _v(x["target"]),
                x["target_source"],
                _v(x["prior"]),
                _v(x["last_year"]),
                x["status"],
                "yes" if x["value_text"] == "suppressed" else "no",
            ]
        )
    return out.getvalue()


def _v(v: Any) -> Any:
    return "" if v is None else round(float(v), 6)


def _mask(group: dict[str, Any], counts: bool) -> None:
    """Mask small population counts of one group, and its score when they reveal it."""
    for pop in group.get("population", []):
        if deid.small(pop.get("count")):
            pop.pop("count")
            pop["extension"] = [{"url": ABSENT, "valueCode": "masked"}]
    pops = {p["code"]["coding"][0]["code"]: p for p in group.get("population", [])}
    small_numerator = "count" not in pops.get("numerator", {"count": 0})
    small_denominator = "count" not in pops.get("denominator", {"count": 0})
    if small_denominator or (counts and small_numerator):
        group.pop("measureScore", None)
        group.pop("extension", None)
        group["extension"] = [{"url": ABSENT, "valueCode": "masked"}]


def measure_reports(quarter: services.Quarter) -> bytes:
    """NDJSON MeasureReports of the quarter: each measure's system and site results."""
    from cmo.measures.export import measure_reports as reports

    measures = r.list_measures()
    rows = []
    for m in measures:
        for level in ("system", "site"):
            rows += r.results(
                m["measure_id"],
                period_type="quarter",
                level=level,  # type: ignore[arg-type]
                period_start=quarter.start,
            )
    if not rows:
        return b""
    frame = pd.DataFrame(rows)[RESULT_COLUMNS]
    counts = {m["measure_id"]: services.counts_events(m) for m in measures}
    out = []
    for report in reports(frame, pd.DataFrame(measures)):
        mid = report["measure"].rsplit("/", 1)[-1].split("|")[0]
        for group in report["group"]:
            _mask(group, counts.get(mid, True))
        out.append(orjson.dumps(report))
    return b"\n".join(out) + b"\n"
