"""Turns ``cmo.measures.api`` rows into what the pages show: formatted values, control-chart and
funnel frames, tiles and the attention list. No Django, no warehouse: plain data in and out.

Chart choice for the monthly series (Provost & Murray, The Health Care Data Guide, 2011,
ch. 5-6; Benneyan, Lloyd & Plsek, Qual Saf Health Care 2003;12:458):
- risk-adjusted measures: a U chart of observed events over expected events, so the centre
  line and limits are on the O/E scale (Poisson variation around 1 when the model is calibrated);
- unadjusted proportions: a P chart of numerator over denominator;
- means (e.g. length of stay without a model): an I chart of the monthly mean.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

CURRENT_SIGNAL_MONTHS = 3  # a signal in the last three months of data is "current"
SIGNAL_LABELS = {
    "sigma": "Beyond 3-sigma limit",
    "runs": "Unusual run (Anhøj rules)",
    "funnel_95": "Outside 95% funnel limit",
    "funnel_99_8": "Outside 99.8% funnel limit",
    "cusum": "CUSUM alarm",
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


def is_percent(measure: dict[str, Any]) -> bool:
    return measure.get("kind") == "proportion" and (measure.get("unit") or "%") == "%"


def fmt_value(v: Any, measure: dict[str, Any]) -> str:
    """A rate for people: proportions as percentages, means with their unit."""
    f = num(v)
    if f is None:
        return "–"
    if is_percent(measure):
        return f"{f * 100:.1f}%"
    unit = measure.get("unit") or ""
    return f"{f:.2f} {unit}".strip()


def fmt_oe(oe: Any, lo: Any, hi: Any) -> str:
    o = num(oe)
    if o is None:
        return "–"
    lo_f, hi_f = num(lo), num(hi)
    if lo_f is None or hi_f is None:
        return f"{o:.2f}"
    return f"{o:.2f} (95% CI {lo_f:.2f}–{hi_f:.2f})"


def period_label(period_type: str, start: Any) -> str:
    d = as_date(start)
    if d is None:
        return "–"
    if period_type == "quarter":
        return f"Q{(d.month - 1) // 3 + 1} {d.year}"
    if period_type == "year":
        return str(d.year)
    return d.strftime("%b %Y")


def target_status(value: Any, measure: dict[str, Any]) -> str | None:
    """'meets' or 'misses' the target given the direction; None without a target."""
    v, t = num(value), num(measure.get("target"))
    if v is None or t is None:
        return None
    better_low = measure.get("direction", "lower") == "lower"
    return "meets" if (v <= t if better_low else v >= t) else "misses"


def chart_kind(measure: dict[str, Any]) -> str:
    if measure.get("risk_adjusted"):
        return "u"
    return "p" if measure.get("kind") == "proportion" else "i"


def control_frame(rows: list[dict[str, Any]], measure: dict[str, Any]) -> pd.DataFrame | None:
    """The monthly control chart (cmo.stats.spc, qicharts2 semantics) or None if < 2 months."""
    from cmo.stats.spc import control_chart

    rows = [r for r in rows if num(r.get("denominator"))]
    if len(rows) < 2:
        return None
    df = pd.DataFrame(rows).sort_values("period_start")
    x = pd.to_datetime(df["period_start"]).reset_index(drop=True)
    kind = chart_kind(measure)
    if kind == "u":
        out = control_chart(df["numerator"], df["expected"], chart="u", x=x)
    elif kind == "p":
        out = control_chart(
            df["numerator"],
            df["denominator"],
            chart="p",
            x=x,
            multiply=100 if is_percent(measure) else 1,
        )
    else:
        out = control_chart(df["rate"], chart="i", x=x)
    out.attrs["y_title"] = y_title(measure)
    return out


def y_title(measure: dict[str, Any]) -> str:
    kind = chart_kind(measure)
    if kind == "u":
        return "Observed / expected (O/E)"
    if kind == "p":
        return "Rate (%)" if is_percent(measure) else "Rate"
    return f"Mean ({measure.get('unit') or 'value'})"


def funnel_frame(rows: list[dict[str, Any]], measure: dict[str, Any]) -> pd.DataFrame | None:
    """Practitioner funnel (cmo.stats.funnel; Spiegelhalter, Stat Med 2005;24:1185)."""
    from cmo.stats.funnel import funnel

    rows = [r for r in rows if num(r.get("denominator")) and num(r.get("expected")) is not None]
    if len(rows) < 3:
        return None
    df = pd.DataFrame(rows)
    labels = df["unit_id"].astype(str)
    if measure.get("risk_adjusted") and measure.get("kind") == "proportion":
        out = funnel(df["numerator"], expected=df["expected"], labels=labels)
    elif measure.get("kind") == "proportion":
        out = funnel(df["numerator"], df["denominator"], labels=labels)
    else:
        return None  # a funnel for means needs the spread of each practitioner's stays
    names = dict(zip(labels, df["unit_name"].astype(str), strict=False))
    out["name"] = out["label"].map(names)
    return out


COMPLETE_SHARE = 0.5  # a last period with under half the usual volume is still filling up


def complete_periods(rows: list[dict[str, Any]]) -> list[date]:
    """Period starts in order, without trailing periods that are not complete yet.

    The data end rarely falls on a period boundary: a last month or quarter with a handful of
    discharges would make the "current" value noise. A trailing period whose total
    denominator is under COMPLETE_SHARE of the median period's is left out (it still shows on
    the control chart, where its wide limits say how little it weighs).
    """
    totals: dict[date, float] = {}
    for r in rows:
        d = as_date(r.get("period_start"))
        if d is not None:
            totals[d] = totals.get(d, 0.0) + (num(r.get("denominator")) or 0.0)
    periods = sorted(totals)
    if not periods:
        return []
    median = float(pd.Series(list(totals.values())).median())
    while len(periods) > 1 and totals[periods[-1]] < COMPLETE_SHARE * median:
        periods.pop()
    return periods


def latest_complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the latest complete period (all units of it)."""
    periods = complete_periods(rows)
    if not periods:
        return []
    return [r for r in rows if as_date(r.get("period_start")) == periods[-1]]


def latest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    dated = [(d, r) for r in rows if (d := as_date(r.get("period_start"))) is not None]
    return max(dated, key=lambda dr: dr[0])[1] if dated else None


def current_signals(signals: list[dict[str, Any]], last_month: date | None) -> list[dict[str, Any]]:
    """Signals whose period is within the last CURRENT_SIGNAL_MONTHS months of data."""
    if last_month is None:
        return []
    cut = last_month.year * 12 + last_month.month - CURRENT_SIGNAL_MONTHS
    out = []
    for s in signals:
        d = as_date(s.get("period_start"))
        # A funnel signal is about a calendar year (docs/measures/results.md): current while
        # that year overlaps the last months, like a monthly signal of one of them.
        last_of_period = (d.year * 12 + d.month + signal_months(s) - 1) if d else None
        if last_of_period is not None and last_of_period > cut:
            out.append(s)
    # Worse before better, then by level from the system down.
    order = list(LEVEL_LABELS)
    out.sort(
        key=lambda s: (
            s.get("direction") != "worse",
            order.index(s.get("level", "unit")) if s.get("level") in order else 9,
            str(s.get("measure_id")),
        )
    )
    return out


def signal_months(s: dict[str, Any]) -> int:
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
        names = sorted(str(m["who"]) for m in members if m.get("named", True))
        hidden = len(members) - len(names)
        shown = "; ".join(names[:NAMES_SHOWN])
        more = len(names) - NAMES_SHOWN
        detail = shown + (f"; and {more} more" if more > 0 else "")
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
                "grouped": len(members),
            }
        )
    return out


def describe_signal(s: dict[str, Any], *, show_practitioner: bool) -> dict[str, Any]:
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
