"""Formats what the build computed for people: values, O/E, period labels, signal lines.

No Django, no warehouse and no analysis: control-chart points, funnel limits, signals and
complete periods are computed by ``cmo measures run`` (``cmo.measures.results``) and read
through ``cmo.quality.reads``; this module only words and orders them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd  # Timestamps in rows read back from Arrow

SIGNAL_LABELS = {
    "sigma": "Beyond the control limits",
    "runs": "Unusual run (Anhøj rules)",
    "funnel_95": "Outside 95% funnel limit",
    "funnel_99_8": "Outside 99.8% funnel limit",
    "cusum": "CUSUM alarm",
    "sir": "SIR above/below 1 (NHSN mid-P, BH q < 0.05)",
}
LEVEL_LABELS = {
    "system": "System",
    "site": "Site",
    "department": "Department",
    "unit": "Unit",
    "practitioner": "Practitioner",
}


def num(v: Any) -> float | None:
    """A finite float, or None for null/NaN/inf."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def as_date(v: Any) -> date | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, datetime | pd.Timestamp):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def is_percent(measure: Mapping[str, Any]) -> bool:
    return measure.get("kind") == "proportion" and (measure.get("unit") or "%") == "%"


def fmt_value(v: Any, measure: Mapping[str, Any]) -> str:
    """A rate for people: proportions as percentages, means with their unit."""
    number = fmt_number(v, measure)
    return number if number == "–" else f"{number} {value_unit(measure)}".strip()


def fmt_number(v: Any, measure: Mapping[str, Any]) -> str:
    """:func:`fmt_value` without the unit (percentages keep their sign)."""
    f = num(v)
    if f is None:
        return "–"
    return f"{f * 100:.1f}%" if is_percent(measure) else f"{f:.2f}"


def value_unit(measure: Mapping[str, Any]) -> str:
    """The unit :func:`fmt_value` writes after the number ("" for percentages)."""
    return "" if is_percent(measure) else str(measure.get("unit") or "")


def fmt_exposure(result: Mapping[str, Any], measure: Mapping[str, Any]) -> str | None:
    """What a result's ``exposure`` says beside its value: the device or patient days of a rate
    (NHSN), or the response rate of a survey measure (responders / eligible; a low response
    rate is a caveat to show, not to hide). None when the result has no exposure."""
    x, n = num(result.get("exposure")), num(result.get("denominator"))
    if x is None:
        return None
    if measure.get("kind") == "rate":
        return (
            f"{x:,.0f} {'patient' if 'patient day' in str(measure.get('unit')) else 'device'} days"
        )
    if not n:
        return None
    return f"{x / n:.0%} responded ({x:.0f} of {n:.0f})"


def fmt_oe(oe: Any, lo: Any, hi: Any) -> str:
    o = num(oe)
    if o is None:
        return "–"
    lo_f, hi_f = num(lo), num(hi)
    if lo_f is None or hi_f is None:
        return f"{o:.2f}"
    return f"{o:.2f} (95% CI {lo_f:.2f}–{hi_f:.2f})"


ROLLING_MONTHS = {"rolling12": 12, "rolling24": 24}


def period_label(period_type: str, start: Any) -> str:
    d = as_date(start)
    if d is None:
        return "–"
    if period_type in ROLLING_MONTHS:  # the build's rolling window from its first month
        n = ROLLING_MONTHS[period_type]
        last = d.year * 12 + d.month - 1 + n - 1
        end = date(last // 12, last % 12 + 1, 1)
        return f"{d:%b %Y}–{end:%b %Y} (rolling {n} months)"
    if period_type == "quarter":
        return f"Q{(d.month - 1) // 3 + 1} {d.year}"
    if period_type == "year":
        return str(d.year)
    return d.strftime("%b %Y")


def months_label(start: Any, end: Any) -> str:
    """A span of whole months, ``end`` exclusive (a funnel's period_end): "Feb 2023–Dec 2024"."""
    a, b = as_date(start), as_date(end)
    if a is None or b is None:
        return "–"
    last = b.year * 12 + b.month - 2  # the month before the exclusive end
    return f"{a:%b %Y}–{date(last // 12, last % 12 + 1, 1):%b %Y}"


def target_status(value: Any, measure: Mapping[str, Any]) -> str | None:
    """'meets' or 'misses' the target given the direction; None without a target."""
    v, t = num(value), num(measure.get("target"))
    if v is None or t is None:
        return None
    better_low = measure.get("direction", "lower") == "lower"
    return "meets" if (v <= t if better_low else v >= t) else "misses"


def y_title(measure: Mapping[str, Any], chart: str) -> str:
    """The axis title of a measure's control chart (``chart``: u, p or i; the build's
    ``cmo.measures.results.chart_kind``)."""
    if chart == "u" and measure.get("kind") == "rate":  # NHSN: per 1,000 device days
        return f"Rate ({measure.get('unit') or 'per exposure'})"
    if chart == "u":
        return "Observed / expected (O/E)"
    if chart == "p":
        return "Rate (%)" if is_percent(measure) else "Rate"
    if measure.get("risk_adjusted"):
        return "Observed / expected (O/E)"
    return f"Mean ({measure.get('unit') or 'value'})"


def order_signals(signals: list[Any]) -> list[Any]:  # typed rows or dicts
    """Worse before better, then by level from the system down, then by measure."""
    order = list(LEVEL_LABELS)
    return sorted(
        signals,
        key=lambda s: (
            s.get("direction") != "worse",
            order.index(s.get("level", "unit")) if s.get("level") in order else 9,
            str(s.get("measure_id")),
        ),
    )


def signal_months(s: Mapping[str, Any]) -> int:
    """The length of a signal's period: a year for funnel signals, else a month."""
    return 12 if str(s.get("kind") or "").startswith("funnel") else 1


FUNNEL_GROUP_OVER = 3  # more funnel outliers than this of one kind are listed as one line
LEVEL_PLURALS = {"department": "departments", "unit": "units", "practitioner": "practitioners"}
NAMES_SHOWN = 6


def group_funnel_signals(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold many funnel outliers of one measure, level, limit and direction into one line.

    ``items`` are described signals (``describe_signal``) with ``measure_title`` and ``url``;
    an item whose practitioner is not to be named has ``named`` False. A measure whose funnel
    flags twenty practitioners at once says so in one line with the first names, rather than
    pushing every other signal off the first screen. Order is kept (first member's place).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for it in items:
        if str(it.get("kind") or "").startswith("funnel") and it.get("level") in LEVEL_PLURALS:
            key = (it.get("measure_id"), it.get("level"), it.get("kind"), it.get("direction"))
            groups.setdefault(key, []).append(it)
    out: list[dict[str, Any]] = []
    done: set[tuple[Any, ...]] = set()
    for it in items:
        key = (it.get("measure_id"), it.get("level"), it.get("kind"), it.get("direction"))
        members = groups.get(key, [])
        if len(members) <= FUNNEL_GROUP_OVER:
            out.append(it)
            continue
        if key in done:
            continue
        done.add(key)
        named = sorted((m for m in members if m.get("named", True)), key=lambda m: str(m["who"]))
        names = [str(m["who"]) for m in named]
        hidden = len(members) - len(names)
        # Each named unit links to its page where the item has one (the first few).
        links = [
            {"who": str(m["who"]), "url": m["url"]} for m in named[:NAMES_SHOWN] if m.get("url")
        ]
        shown = "" if links else "; ".join(names[:NAMES_SHOWN])
        more = len(names) - NAMES_SHOWN
        detail = shown + (f"{'; ' if shown else ''}and {more} more" if more > 0 else "")
        if hidden:
            why = next(
                (m["who_hidden"] for m in members if m.get("who_hidden")),
                "names visible to authorised roles",
            )
            detail += ("; " if detail else "") + f"{hidden} not named here ({why})"
        level = str(it.get("level"))
        out.append(
            {
                **it,
                "who": f"{len(members)} {LEVEL_PLURALS[level]}",
                "level_label": LEVEL_LABELS[level] + "s",
                "detail": detail,
                "links": links,
                "grouped": len(members),
            }
        )
    return out


def describe_signal(s: Mapping[str, Any], *, show_practitioner: bool) -> dict[str, Any]:
    level = s.get("level") or ""
    name = s.get("unit_name") or s.get("unit_id") or ""
    if level == "practitioner" and not show_practitioner:
        name = "a practitioner (name visible to authorised roles)"
    return {
        **s,
        "level_label": LEVEL_LABELS.get(level, level),
        "who": name,
        "kind_label": SIGNAL_LABELS.get(s.get("kind") or "", s.get("kind") or ""),
        "period_label": period_label(
            "year" if signal_months(s) == 12 else "month", s.get("period_start")
        ),
        "named": level != "practitioner" or show_practitioner,
    }


def funnel_position(p: Mapping[str, Any], measure: Mapping[str, Any]) -> dict[str, Any]:
    """A unit's place in its funnel (the build's ``quality__funnel_point`` row) in words.

    A small cell (the build's ``small_cell``: under 25 cases or under one expected event) is
    "too few to judge" and never flagged; otherwise the side of the 95% / 99.8% limits
    (Spiegelhalter, Stat Med 2005;24:1185), whether that side is the worse one, the
    Benjamini-Hochberg q-value and the empirical-Bayes shrunk O/E where the build wrote them.
    """
    ratio = num(p.get("ratio"))
    lower_better = measure.get("direction", "lower") == "lower"
    small = bool(p.get("small_cell"))
    side = None
    limit = None
    if not small and ratio is not None:
        if p.get("outlier_99_8"):
            limit = "99.8%"
            side = "above" if ratio > (num(p.get("ucl_99_8")) or 0.0) else "below"
        elif p.get("outlier_95"):
            limit = "95%"
            side = "above" if ratio > (num(p.get("ucl_95")) or 0.0) else "below"
    if small:
        words = "too few to judge"
    elif side is None:
        words = "within the limits"
    else:
        words = f"{side} the {limit} limit"
    worse = None if side is None else (side == "above") == lower_better
    shrunk = None
    if num(p.get("shrunk_ratio")) is not None:
        shrunk = fmt_oe(p.get("shrunk_ratio"), p.get("shrunk_low"), p.get("shrunk_high"))
    return {
        "ratio": ratio,
        "lcl_95": num(p.get("lcl_95")),
        "ucl_95": num(p.get("ucl_95")),
        "words": words,
        "flag": None if worse is None else ("worse" if worse else "better"),
        "small": small,
        "q": fmt_q(p.get("q_value")),
        "shrunk": shrunk,
        "cases": int(p["denominator"]) if num(p.get("denominator")) is not None else None,
    }


def fmt_q(q: Any) -> str | None:
    """A Benjamini-Hochberg q-value for people (None when the build wrote none)."""
    f = num(q)
    if f is None:
        return None
    return "q < 0.001" if f < 0.001 else f"q = {f:.3f}"
