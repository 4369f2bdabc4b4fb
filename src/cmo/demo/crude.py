"""Crude rates computed straight from a demo export's NDJSON (no warehouse, no measures).

An independent check of the generator: the calibration targets and the planted signals
must be visible in these crude numbers. Used by ``cmo demo check`` and the tests.
Definitions are deliberately simple (documented in docs/demo-data.md): a 30-day readmission
is any inpatient admission within 30 days of a live discharge that was not a transfer out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from cmo.demo import casemix as cx

COMPLICATION_CODES = {c for codes in cx.COMPLICATIONS.values() for c in codes}
SURGICAL_PCS = {p.code for c in cx.CASE_TYPES if c.surgical for p in c.procedures} | set(
    cx.LEFT_PROCEDURE.values()
)


def _read(folder: Path, rtype: str) -> Iterator[dict[str, Any]]:
    path = folder / f"{rtype}.ndjson"
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            yield orjson.loads(line)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


def _id(reference: dict[str, str]) -> str:
    return reference["reference"].split("/", 1)[1]


def _stays(folder: Path) -> list[dict[str, Any]]:
    stays = []
    for e in _read(folder, "Encounter"):
        if e["class"]["code"] != "IMP":
            continue
        atnd = next(p for p in e["participant"] if p["type"][0]["coding"][0]["code"] == "ATND")
        locs = [_id(loc["location"]) for loc in e.get("location", [])]
        stays.append(
            {
                "id": e["id"],
                "patient": _id(e["subject"]),
                "admit": _day(e["period"]["start"]),
                "discharge": _day(e["period"]["end"]),
                "disposition": e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"],
                "source": e["hospitalization"]["admitSource"]["coding"][0]["code"],
                "department": _id(e["serviceProvider"]),
                "attending": _id(atnd["individual"]),
                "units": {loc.rsplit("-r", 1)[0] for loc in locs},
            }
        )
    return stays


def crude_rates(folder: Path) -> dict[str, Any]:
    """Crude system rates and the four planted signals' crude numbers."""
    stays = _stays(folder)
    doc = orjson.loads((folder / "signals.json").read_bytes())
    sig = {s["id"]: s for s in doc["signals"]}
    by_patient = _by_patient(stays)
    readmitted, eligible = _readmissions(by_patient)
    complicated, clabsi = _claim_flags(folder, by_patient)
    out = _system_rates(folder, stays, readmitted, eligible)
    out["icu_mortality"] = _icu_mortality(stays, sig["icu-mortality-rising"])
    out["surgeon"] = _surgeon(folder, stays, sig["surgeon-complications"], complicated, readmitted)
    out["clabsi"] = _clabsi(stays, sig["clabsi-cluster"], clabsi, doc["arguments"]["months"])
    out["los_physician"] = _los_physician(stays, sig["physician-los"])
    return out


def _by_patient(stays: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Stays per patient in admission order."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in stays:
        by_patient[s["patient"]].append(s)
    for lst in by_patient.values():
        lst.sort(key=lambda s: s["admit"])
    return by_patient


def _within_30_days(index: dict[str, Any], later: dict[str, Any]) -> bool:
    return 0 <= (later["admit"] - index["discharge"]).days <= 30


def _readmissions(by_patient: dict[str, list[dict[str, Any]]]) -> tuple[set[str], int]:
    """Index stays (alive, not transferred out) followed by an admission within 30 days."""
    readmitted: set[str] = set()
    eligible = 0
    for lst in by_patient.values():
        for k, s in enumerate(lst):
            if s["disposition"] in ("exp", "other-hcf"):  # died; transferred to another hospital
                continue
            eligible += 1
            if any(_within_30_days(s, n) for n in lst[k + 1 :]):
                readmitted.add(s["id"])
    return readmitted, eligible


def _claim_flags(
    folder: Path, by_patient: dict[str, list[dict[str, Any]]]
) -> tuple[set[str], set[str]]:
    """(complicated, CLABSI) stay ids. Complicated: a claim diagnosis not present on
    admission, or a 30-day readmission whose principal is a post-operative complication."""
    complicated: set[str] = set()
    clabsi: set[str] = set()
    complication_principal: set[str] = set()
    for c in _read(folder, "Claim"):
        eid = c["id"][:-2]  # claim id = encounter id + "-c"
        for d in c.get("diagnosis", []):
            code = d["diagnosisCodeableConcept"]["coding"][0]["code"]
            poa = d.get("onAdmission", {}).get("coding", [{}])[0].get("code")
            if poa == "n":
                complicated.add(eid)
            if d["sequence"] == 1 and code in COMPLICATION_CODES:
                complication_principal.add(eid)
            if code == cx.CLABSI_CODE:
                clabsi.add(eid)
    for lst in by_patient.values():
        for k, s in enumerate(lst):
            if any(
                n["id"] in complication_principal and _within_30_days(s, n) for n in lst[k + 1 :]
            ):
                complicated.add(s["id"])
    return complicated, clabsi


def _system_rates(
    folder: Path, stays: list[dict[str, Any]], readmitted: set[str], eligible: int
) -> dict[str, Any]:
    deaths = {
        p["id"]: _day(p["deceasedDateTime"])
        for p in _read(folder, "Patient")
        if "deceasedDateTime" in p
    }
    n = len(stays)
    died = sum(s["disposition"] == "exp" for s in stays)
    mort30 = sum(
        s["patient"] in deaths and (deaths[s["patient"]] - s["admit"]).days <= 30 for s in stays
    )
    los = sum((s["discharge"] - s["admit"]).days for s in stays)
    return {
        "stays": n,
        "in_hospital_mortality": died / n if n else None,
        "mortality_30d": mort30 / n if n else None,
        "readmission_30d": len(readmitted) / eligible if eligible else None,
        "mean_los": los / n if n else None,
        "transfers_in": sum(s["source"] == "hosp-trans" for s in stays),
    }


def _icu_mortality(stays: list[dict[str, Any]], icu: dict[str, Any]) -> dict[str, Any]:
    """Mortality of stays with time in the signal ICU, before vs during the last 6 months."""
    recent = date.fromisoformat(icu["period_start"])
    groups: dict[str, list[int]] = {"before": [0, 0], "recent": [0, 0]}
    for s in stays:
        if icu["unit_id"] in s["units"]:
            g = groups["recent" if s["admit"] >= recent else "before"]
            g[0] += 1
            g[1] += s["disposition"] == "exp"
    return {k: (v[1] / v[0] if v[0] else None, v[0]) for k, v in groups.items()}


def _surgeon(
    folder: Path,
    stays: list[dict[str, Any]],
    surg: dict[str, Any],
    complicated: set[str],
    readmitted: set[str],
) -> dict[str, Any]:
    """Complication and readmission rates of the planted surgeon's operations vs peers'."""
    operated = {
        _id(p["encounter"])
        for p in _read(folder, "Procedure")
        if p["code"]["coding"][0]["code"] in SURGICAL_PCS
    }
    ortho = f"{surg['site_id']}-orthopedics"
    sg: dict[str, list[int]] = {"signal": [0, 0, 0], "peers": [0, 0, 0]}
    for s in stays:
        if s["department"] != ortho or s["id"] not in operated:
            continue
        g = sg["signal" if s["attending"] == surg["practitioner_id"] else "peers"]
        g[0] += 1
        g[1] += s["id"] in complicated
        g[2] += s["id"] in readmitted
    return {
        k: {
            "stays": v[0],
            "complication": v[1] / v[0] if v[0] else None,
            "readmission": v[2] / v[0] if v[0] else None,
        }
        for k, v in sg.items()
    }


def _clabsi(
    stays: list[dict[str, Any]], cl: dict[str, Any], clabsi: set[str], months: int
) -> dict[str, Any]:
    """CLABSI among stays with time in the cluster ICU: the quarter vs the other quarters."""
    q0, q1 = date.fromisoformat(cl["period_start"]), date.fromisoformat(cl["period_end"])
    cg = {"quarter": [0, 0], "other": [0, 0]}
    for s in stays:
        if cl["unit_id"] in s["units"]:
            g = cg["quarter" if q0 <= s["admit"] < q1 else "other"]
            g[0] += 1
            g[1] += s["id"] in clabsi
    return {
        "quarter_events": cg["quarter"][1],
        "other_events_per_quarter": cg["other"][1] / max(1, months / 3 - 1),
        "quarter_stays": cg["quarter"][0],
    }


def _los_physician(stays: list[dict[str, Any]], ld: dict[str, Any]) -> dict[str, Any]:
    """Mean LOS of live discharges of the planted hospitalist vs the department's peers."""
    dept = f"{ld['site_id']}-medicine"
    lg = {"signal": [0, 0], "peers": [0, 0]}
    for s in stays:
        if s["department"] == dept and s["disposition"] != "exp":
            g = lg["signal" if s["attending"] == ld["practitioner_id"] else "peers"]
            g[0] += 1
            g[1] += (s["discharge"] - s["admit"]).days
    return {k: (v[1] / v[0] if v[0] else None, v[0]) for k, v in lg.items()}


def format_report(rates: dict[str, Any]) -> str:
    """A short plain-text report of :func:`crude_rates`."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines = [
        f"inpatient stays              {rates['stays']:,}",
        f"in-hospital mortality        {pct(rates['in_hospital_mortality'])}",
        f"30-day mortality (from admit) {pct(rates['mortality_30d'])}",
        f"30-day readmission           {pct(rates['readmission_30d'])}",
        f"mean length of stay          {rates['mean_los']:.2f} days",
        f"transfers in                 {rates['transfers_in']:,}",
        "signals:",
        "  ICU mortality before/recent  "
        f"{pct(rates['icu_mortality']['before'][0])} (n={rates['icu_mortality']['before'][1]}) / "
        f"{pct(rates['icu_mortality']['recent'][0])} (n={rates['icu_mortality']['recent'][1]})",
        "  surgeon complications        "
        f"{pct(rates['surgeon']['signal']['complication'])} vs peers "
        f"{pct(rates['surgeon']['peers']['complication'])}",
        "  surgeon readmissions         "
        f"{pct(rates['surgeon']['signal']['readmission'])} vs peers "
        f"{pct(rates['surgeon']['peers']['readmission'])}",
        "  CLABSI in the quarter        "
        f"{rates['clabsi']['quarter_events']} vs "
        f"{rates['clabsi']['other_events_per_quarter']:.2f} per other quarter",
        "  hospitalist mean LOS         "
        f"{rates['los_physician']['signal'][0]:.2f} vs peers "
        f"{rates['los_physician']['peers'][0]:.2f} days",
    ]
    return "\n".join(lines)
