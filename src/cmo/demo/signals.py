"""signals.json: the planted signals (ground truth for the measures and statistics issues)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cmo.demo import sim
from cmo.demo.sim import Context, add_months


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def signals_document(ctx: Context, stats: Counter, counts: Counter) -> dict[str, Any]:
    """What was planted, where, when, the expected direction and size, and what was realised."""
    st = ctx.structure
    sites = st.sites
    by_id = {p.id: p for p in st.practitioners}
    end = ctx.end_date()
    icu_site = sites[sim.ICU_SIGNAL_SITE]
    clabsi_site = sites[sim.CLABSI_SIGNAL_SITE]
    q0 = add_months(ctx.start, ctx.clabsi_quarter)
    q1 = add_months(ctx.start, ctx.clabsi_quarter + 3)
    recent = add_months(ctx.start, ctx.months - sim.ICU_SIGNAL_MONTHS)
    surgeon = by_id[st.signal_surgeon]
    los_doc = by_id[st.signal_los_physician]
    s = stats
    signals = [
        {
            "id": "icu-mortality-rising",
            "what": "in-hospital mortality of stays with ICU days rises over the last 6 months",
            "measure": "IMORT",
            "level": "unit",
            "site_id": icu_site.id,
            "unit_id": icu_site.units["icu"].id,
            "unit_name": icu_site.units["icu"].name,
            "period_start": recent.isoformat(),
            "period_end": end.isoformat(),
            "direction": "worse",
            "size": f"mortality odds x(1 + {sim.ICU_SIGNAL_MAX_OR - 1:g}k/6) in the k-th "
            f"(k = 1..6) of the last 6 admission months (up to x{sim.ICU_SIGNAL_MAX_OR:g})",
            "observed": {
                "stays_before": s["icu_signal_stays_before"],
                "deaths_before": s["icu_signal_deaths_before"],
                "rate_before": _rate(s["icu_signal_deaths_before"], s["icu_signal_stays_before"]),
                "stays_recent": s["icu_signal_stays_recent"],
                "deaths_recent": s["icu_signal_deaths_recent"],
                "rate_recent": _rate(s["icu_signal_deaths_recent"], s["icu_signal_stays_recent"]),
            },
        },
        {
            "id": "surgeon-complications",
            "what": "one orthopaedic surgeon's post-operative complications and 30-day "
            "readmissions are ~3x those of peers (same hospital, same procedures)",
            "measure": "READM30; complications (secondary diagnosis not present on admission "
            "from the complication list, or readmission with a complication principal)",
            "level": "practitioner",
            "site_id": sites[0].id,
            "practitioner_id": surgeon.id,
            "npi": surgeon.npi,
            "period_start": ctx.start.isoformat(),
            "period_end": end.isoformat(),
            "direction": "worse",
            "size": f"complication probability x{sim.SURGEON_COMPLICATION_RR:g}, scheduled "
            f"readmission probability x{sim.SURGEON_READMISSION_RR:g}, twice a peer's volume "
            "(crude rates ~3x peers)",
            "observed": {
                "cases": s["surgeon_signal_cases"],
                "complicated": s["surgeon_signal_complicated"],
                "readmitted": s["surgeon_signal_readmitted"],
                "peer_cases": s["surgeon_peers_cases"],
                "peer_complicated": s["surgeon_peers_complicated"],
                "peer_readmitted": s["surgeon_peers_readmitted"],
            },
        },
        {
            "id": "clabsi-cluster",
            "what": "a cluster of CLABSI (T80.211A, onset on line day 3 or later) in one ICU "
            "in one quarter",
            "measure": "CLABSI (NHSN device-associated infection rate / SIR)",
            "level": "unit",
            "site_id": clabsi_site.id,
            "unit_id": clabsi_site.units["icu"].id,
            "unit_name": clabsi_site.units["icu"].name,
            "period_start": q0.isoformat(),
            "period_end": q1.isoformat(),
            "direction": "worse",
            "size": f"hazard {sim.CLABSI_SIGNAL_HAZARD * 1000:g} per 1,000 line days vs "
            f"{sim.CLABSI_HAZARD * 1000:g} elsewhere",
            "observed": {
                "line_days_quarter": s["clabsi_site_line_days_cluster"],
                "events_quarter": s["clabsi_site_events_cluster"],
                "line_days_other": s["clabsi_site_line_days_other"],
                "events_other": s["clabsi_site_events_other"],
            },
        },
        {
            "id": "physician-los",
            "what": "one hospitalist's length of stay is ~1.4x that of peers (same case mix)",
            "measure": "LOS index (observed / expected AMLOS)",
            "level": "practitioner",
            "site_id": sites[2].id,
            "practitioner_id": los_doc.id,
            "npi": los_doc.npi,
            "period_start": ctx.start.isoformat(),
            "period_end": end.isoformat(),
            "direction": "worse",
            "size": f"expected LOS x{sim.LOS_SIGNAL_FACTOR:g}",
            "observed": {
                "stays": s["los_signal_stays"],
                "mean_los": _rate(s["los_signal_days"], s["los_signal_stays"]),
                "peer_stays": s["los_peers_stays"],
                "peer_mean_los": _rate(s["los_peers_days"], s["los_peers_stays"]),
            },
        },
    ]
    return {
        "generator": "cmo demo",
        "arguments": {
            "patients": ctx.patients,
            "seed": ctx.seed,
            "start": ctx.start.isoformat(),
            "months": ctx.months,
        },
        "signals": signals,
        "totals": {
            "resources": {k: counts[k] for k in sorted(counts)},
            "inpatient_stays": s["stays"],  # acute (class IMP)
            "non_acute_stays": s["non_acute_stays"],  # inpatient rehabilitation (class NONAC)
            "in_hospital_deaths": s["deaths"],
            "crude_in_hospital_mortality": _rate(s["deaths"], s["stays"]),
            "mean_los_days": _rate(s["los_days"], s["stays"]),
            "patients_deceased": s["patients_dead"],
            "clabsi": s["clabsi"],
            "cauti": s["cauti"],
            "falls_with_injury": s["fall"],
            "pressure_injuries_stage_3_4": s["pressure"],
            "postoperative_complications": s["complication"],
        },
    }
