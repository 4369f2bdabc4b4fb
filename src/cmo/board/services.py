"""The board report's rules: the quarter, the numbers the template receives, the status against
target, the summary sentences. Small functions; the pages, the CLI and the API call them.

Every number comes from a typed read (``cmo.board.reads`` over ``cmo.measures.api``: the
``quality__*`` tables of the serving snapshot), from ``cmo.quality.interface.targets`` (the
CMO's targets), from ``cmo.safety.interface.board_counts``, ``cmo.staff.interface.board_counts``
and, once that module is installed, ``cmo.review.interface.board_counts``. Measures are taken
from ``quality__measure`` as they are (their ``group`` puts them in a section), so a new
measure shows up with no code here. :func:`build` applies the CMS cell-size rule and checks the
result (``cmo.board.deid``) before anything is rendered.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cmo.board import deid
from cmo.board import reads as r
from cmo.errors import CmoError
from cmo.measures.spec import GROUPS

# Status against target (stated on the report):
#  met     - the value is on the better side of the target (or equal) and the control chart
#            shows no signal in the worse direction in the quarter;
#  watch   - the value is on the better side but a worse signal occurred in the quarter, or it
#            misses the target by at most WATCH_MARGIN of the target;
#  not met - the value misses the target by more than WATCH_MARGIN of the target.
WATCH_MARGIN = 0.10
STATUS_RULE = (
    "Met: the quarter's value is at or better than the target and the control chart shows no "
    "signal in the worse direction in the quarter. Watch: better than the target but with a "
    "worse control-chart signal in the quarter, or worse than the target by at most 10% of "
    "the target. Not met: worse than the target by more than 10% of the target. Without a "
    "target no status is given (a worse signal still shows)."
)
SIGNAL_RULE = (
    "Signals are control-chart signals computed by the measures build (cmo.stats.spc, "
    "qicharts2 chart types): a month beyond the control limits, which are probability limits "
    "with the 3-sigma false-alarm rate of 0.135% per side (exact Poisson for the U chart of "
    "observed/expected events of risk-adjusted proportions, binomial for the P chart "
    "otherwise, an I chart for means with sigma corrected for its length; Provost & Murray, "
    "The Health Care Data Guide, 2011; Montgomery, Introduction to Statistical Quality "
    "Control, probability limits) or an unusual run (Anhøj & Olesen, PLoS One "
    "2014;9:e113825). A signal is worse or better by the measure's direction. Colours never "
    "mark anything else."
)
SUPPRESSION_RULE = (
    "Counts from 1 to 10, and rates or ratios from which such a count could be derived, are "
    "suppressed (shown as <11 or 'suppressed'), following the CMS cell-size suppression "
    "policy. No patient or practitioner is named; dates are given to the month."
)
TREND_MONTHS = 24
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class BadPeriod(CmoError):
    """The period is not a quarter of the results."""


@dataclass(frozen=True)
class Quarter:
    year: int
    q: int

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.q}"

    @property
    def title(self) -> str:
        return f"Q{self.q} {self.year}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> date:
        """The day after the quarter (exclusive end)."""
        return self.shift(1).start

    def shift(self, quarters: int) -> Quarter:
        index = self.year * 4 + self.q - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)

    @classmethod
    def of(cls, d: date) -> Quarter:
        return cls(d.year, (d.month - 1) // 3 + 1)


def parse_period(text: str) -> Quarter:
    """``"2024-Q4"`` -> the quarter; anything else is a :class:`BadPeriod`."""
    m = QUARTER.match(text.strip())
    if not m:
        raise BadPeriod(f"period {text!r}: write a quarter as YYYY-QN, e.g. 2024-Q4")
    return Quarter(int(m.group(1)), int(m.group(2)))


def quarters() -> list[Quarter]:
    """The complete quarters of the results, newest first."""
    rows = [p for p in r.periods() if p["period_type"] == "quarter" and p["complete"]]
    return sorted((Quarter.of(p["period_start"]) for p in rows), key=lambda q: q.label)[::-1]


def checked_quarter(text: str | None) -> Quarter:
    """The quarter asked for (default the latest complete one), which must be complete."""
    known = quarters()
    if not known:
        raise BadPeriod("the results have no complete quarter yet: run `cmo measures run`")
    if not text:
        return known[0]
    quarter = parse_period(text)
    if quarter not in known:
        raise BadPeriod(
            f"{quarter.label} is not a complete quarter of the results "
            f"(complete: {known[-1].label} to {known[0].label})"
        )
    return quarter


def month(d: Any) -> str:
    """A date as its month (``YYYY-MM``): the report's finest date."""
    if d is None:
        return "–"
    return str(d)[:7]


def month_title(d: date) -> str:
    return d.strftime("%b %Y")


# --------------------------------------------------------------------------- formatting
def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def is_percent(m: Mapping[str, Any]) -> bool:
    return m.get("kind") == "proportion" and (m.get("unit") or "%") == "%"


def fmt(v: Any, m: Mapping[str, Any]) -> str:
    f = _num(v)
    if f is None:
        return "–"
    if is_percent(m):
        return f"{f * 100:.1f}%"
    return f"{f:.2f} {m.get('unit') or ''}".strip()


def counts_events(m: Mapping[str, Any]) -> bool:
    """Whether the numerator counts patients or events (proportions), so small ones hide."""
    return m.get("kind") != "mean"


@dataclass(frozen=True)
class Cell:
    """One result as the report may show it (suppressed values are gone, not hidden)."""

    shown: bool
    n: int | str | None
    value: float | None
    oe: float | None
    ci_low: float | None
    ci_high: float | None


def result_cell(row: Mapping[str, Any] | None, m: Mapping[str, Any]) -> Cell:
    if row is None:
        return Cell(False, None, None, None, None, None)
    hidden = deid.rate_hidden(row.get("numerator"), row.get("denominator"), counts=counts_events(m))
    n = deid.cell(row.get("denominator"))
    if hidden:
        return Cell(False, n, None, None, None, None)
    return Cell(
        True,
        n,
        _num(row.get("rate")),
        _num(row.get("oe")),
        _num(row.get("ci_low")),
        _num(row.get("ci_high")),
    )


def cell_text(c: Cell, m: Mapping[str, Any]) -> str:
    if c.n is None:
        return "–"
    if not c.shown:
        return "suppressed"
    return fmt(c.value, m)


def oe_text(c: Cell) -> str:
    if not c.shown or c.oe is None:
        return "–"
    if c.ci_low is None or c.ci_high is None:
        return f"{c.oe:.2f}"
    return f"{c.oe:.2f} ({c.ci_low:.2f}–{c.ci_high:.2f})"


def status(value: float | None, target: float | None, direction: str, worse_signal: bool) -> str:
    """``met``, ``watch``, ``not_met`` or ``none`` (no target or no value), by STATUS_RULE."""
    if value is None or target is None:
        return "watch" if worse_signal and value is not None else "none"
    lower_better = direction != "higher"
    better_or_equal = value <= target if lower_better else value >= target
    if better_or_equal:
        return "watch" if worse_signal else "met"
    miss = (value - target) if lower_better else (target - value)
    return "watch" if miss <= WATCH_MARGIN * abs(target) else "not_met"


STATUS_LABELS = {"met": "Met", "watch": "Watch", "not_met": "Not met", "none": "No target"}


# --------------------------------------------------------------------------- charts
def sparkline(values: list[float | None], signals: list[bool]) -> str:
    """A small SVG trend (no axes, no labels, no numbers) as a data URI; signal months red."""
    from cmo.stats.charts import sparkline_spec, to_svg

    pairs = [(v, s) for v, s in zip(values, signals, strict=True) if v is not None]
    if len(pairs) < 2:
        return ""
    spec = sparkline_spec([v for v, _ in pairs], signal=[s for _, s in pairs], width=150, height=30)
    spec.setdefault("config", {})["aria"] = False  # no per-point descriptions in the SVG
    for layer in spec.get("layer", []):
        layer.get("encoding", {}).pop("tooltip", None)
    svg = to_svg(spec)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _trend(m: Mapping[str, Any], quarter: Quarter, site: str | None) -> dict[str, Any]:
    """Monthly control-chart points up to the quarter's end: sparkline and the quarter's
    signals (direction by the measure's direction)."""
    points = r.chart(m["measure_id"], level="site" if site else "system", unit_id=site or "all")
    points = [p for p in points if p["period_start"] < quarter.end][-TREND_MONTHS:]
    lower_better = (m.get("direction") or "lower") != "higher"
    flags: list[bool] = []
    in_quarter: list[dict[str, str]] = []
    for p in points:
        flagged = bool(p["sigma_signal"] or p["runs_signal"])
        flags.append(flagged)
        if flagged and p["period_start"] >= quarter.start and p["y"] is not None:
            above = p["cl"] is not None and p["y"] > p["cl"]
            worse = above if lower_better else not above
            kind = "beyond the control limits" if p["sigma_signal"] else "unusual run"
            in_quarter.append(
                {
                    "month": month_title(p["period_start"]),
                    "direction": "worse" if worse else "better",
                    "kind": kind,
                }
            )
    return {
        "svg": sparkline([_num(p["y"]) for p in points], flags),
        "months": len(points),
        "first": month(points[0]["period_start"]) if points else None,
        "signals": in_quarter,
    }


# --------------------------------------------------------------------------- sections
def _one(rows: list[Any]) -> Mapping[str, Any] | None:
    return rows[0] if rows else None


def _quarter_rows(mid: str, level: str, unit: str | None) -> dict[date, Mapping[str, Any]]:
    """Every quarter's result of a measure at one level (one read), by quarter start."""
    if level == "system":
        rows = r.results(mid, period_type="quarter", level="system")
    else:
        rows = r.results(mid, period_type="quarter", level=level, unit_id=unit)  # type: ignore[arg-type]
    return {row["period_start"]: row for row in rows}


def _targets() -> dict[str, tuple[float, str]]:
    from cmo.quality.interface import targets

    return {k: (t.value, t.source) for k, t in targets().items()}


def scorecard_rows(
    measures: Sequence[Mapping[str, Any]],
    quarter: Quarter,
    *,
    level: str = "system",
    unit: str | None = None,
    charts: bool = True,
) -> list[dict[str, Any]]:
    """One row per measure: value, O/E, target and source, prior quarter, same quarter last
    year, status, trend and the quarter's signals; suppressed by the cell-size rule."""
    set_targets = _targets()
    rows = []
    for m in measures:
        mid = m["measure_id"]
        by_quarter = _quarter_rows(mid, level, unit)
        cur = result_cell(by_quarter.get(quarter.start), m)
        prior = result_cell(by_quarter.get(quarter.shift(-1).start), m)
        last_year = result_cell(by_quarter.get(quarter.shift(-4).start), m)
        if mid in set_targets:
            target, source = set_targets[mid]
        elif _num(m.get("target")) is not None:
            target, source = float(m["target"]), "measure specification"
        else:
            target, source = None, ""
        trend: dict[str, Any] = {"svg": "", "signals": [], "months": 0, "first": None}
        if charts and level in ("system", "site"):
            trend = _trend(m, quarter, unit if level == "site" else None)
        worse = any(s["direction"] == "worse" for s in trend["signals"])
        st = (
            status(cur.value, target, m.get("direction") or "lower", worse) if cur.shown else "none"
        )
        if cur.n is not None and not cur.shown:
            st = "suppressed"
        rows.append(
            {
                "measure_id": mid,
                "title": m["title"],
                "group": m.get("group") or "outcomes",
                "unit": m.get("unit") or "",
                "direction": "lower is better"
                if m.get("direction") != "higher"
                else "higher is better",
                "risk_adjusted": bool(m.get("risk_adjusted")),
                "n": cur.n,
                "value": cur.value,
                "value_text": cell_text(cur, m),
                "oe": cur.oe,
                "ci_low": cur.ci_low,
                "ci_high": cur.ci_high,
                "oe_text": oe_text(cur) if m.get("risk_adjusted") else "–",
                "target": target,
                "target_text": fmt(target, m) if target is not None else "–",
                "target_source": source,
                "prior": prior.value,
                "prior_text": cell_text(prior, m),
                "last_year": last_year.value,
                "last_year_text": cell_text(last_year, m),
                "status": st,
                "status_label": STATUS_LABELS.get(st, "Suppressed"),
                "trend_svg": trend["svg"],
                "trend_months": trend["months"],
                "signals": trend["signals"],
            }
        )
    return rows


def _group_title(key: str) -> str:
    return GROUPS.get(key, key.replace("_", " ").capitalize())


def sites_section(
    measures: Sequence[Mapping[str, Any]], quarter: Quarter, site: str | None
) -> dict[str, Any]:
    """Outcomes by site: every measure of the outcomes, harm and efficiency groups (as they
    exist in ``quality__measure``) at each site: O/E for risk-adjusted measures, else the rate."""
    shown = [m for m in measures if (m.get("group") or "outcomes") != "patient_reported"]
    names: dict[str, str] = {}
    values: dict[tuple[str, str], str] = {}
    for m in shown:
        for row in r.results(
            m["measure_id"], period_type="quarter", level="site", period_start=quarter.start
        ):
            code = str(row["unit_id"])
            if site and code != site:
                continue
            names[code] = str(row.get("unit_name") or code)
            c = result_cell(row, m)
            text = (
                oe_text(c).split(" ")[0] if m.get("risk_adjusted") and c.shown else cell_text(c, m)
            )
            values[(m["measure_id"], code)] = text
    codes = sorted(names, key=lambda c: names[c])
    groups = []
    for key in GROUPS:
        ms = [m for m in shown if (m.get("group") or "outcomes") == key]
        if not ms:
            continue
        groups.append(
            {
                "title": _group_title(key),
                "rows": [
                    {
                        "title": m["title"],
                        "scale": "O/E" if m.get("risk_adjusted") else (m.get("unit") or "rate"),
                        "cells": [values.get((m["measure_id"], c), "–") for c in codes],
                    }
                    for m in ms
                ],
            }
        )
    harm = any((m.get("group") or "") == "harm" for m in shown)
    return {"sites": [names[c] for c in codes], "groups": groups, "has_harm": harm}


def safety_section(quarter: Quarter) -> dict[str, Any]:
    from cmo.safety.interface import board_counts

    raw = board_counts(quarter.start, quarter.end)
    shown = deid.cells({k: v for k, v in raw.items() if k != "reporting_rate"})
    rate = raw.get("reporting_rate")
    # The rate reveals the report count with the patient days: hide it with a small count.
    shown["reporting_rate"] = (
        None if rate is None or deid.small(raw.get("reports")) else round(float(rate), 2)
    )
    return shown


def staff_section(quarter: Quarter) -> dict[str, Any]:
    from cmo.staff.interface import board_counts

    return deid.cells(board_counts(quarter.start, quarter.end))


def review_section(quarter: Quarter) -> dict[str, Any] | None:
    """OPPE/FPPE/peer review counts, or None while ``cmo.review`` is not installed."""
    from django.apps import apps

    if not apps.is_installed("cmo.review"):
        return None
    from cmo.review.interface import board_counts  # type: ignore[import-not-found,import-untyped,unused-ignore]

    # The review interface counts over [start, end] with both dates inclusive.
    last_day = date.fromordinal(quarter.end.toordinal() - 1)
    raw: dict[str, Any] = board_counts(quarter.start, last_day)
    median = raw.get("peer_review_median_days")
    shown = deid.cells({k: v for k, v in raw.items() if k not in ("oppe_completion",)})
    # A median of a handful of reviews describes those few: only with 11 or more closed.
    closed = raw.get("peer_review_closed")
    shown["peer_review_median_days"] = (
        None if median is None or deid.small(closed) else round(float(median), 1)
    )
    shown["oppe_completion"] = [
        {
            "department": str(d["department"]),
            "due": deid.cell(d["due"]),
            "done": deid.cell(d["done"]),
        }
        for d in raw.get("oppe_completion") or []
    ]
    return shown


def _calibration(card: Mapping[str, Any]) -> dict[str, Any]:
    deciles = card.get("calibration") or []
    obs = sum(float(d.get("observed") or 0) for d in deciles)
    exp = sum(float(d.get("expected") or 0) for d in deciles)
    worst = max(
        (
            abs(float(d["observed"]) - float(d["expected"])) / float(d["expected"])
            for d in deciles
            if _num(d.get("expected")) and float(d["expected"]) > 0
        ),
        default=None,
    )
    return {
        "oe_overall": round(obs / exp, 3) if exp else None,
        "worst_decile_gap": round(worst, 3) if worst is not None else None,
        "deciles": len(deciles),
    }


def _months_in(text: Any) -> str:
    return deid.FULL_DATE.sub(lambda m: m.group(0)[:7], str(text or ""))


def code_lists() -> list[dict[str, str]]:
    """The code lists the measures read (``cmo.terminology`` data files), with a short hash."""
    import hashlib
    from importlib import resources

    out = []
    data = resources.files("cmo.terminology") / "data"
    for f in sorted(data.iterdir(), key=lambda p: p.name):
        if f.name.lower().startswith("readme") or not f.is_file():
            continue
        out.append({"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()[:12]})
    return out


def methods_section(measures: Sequence[Mapping[str, Any]], quarter: Quarter) -> dict[str, Any]:
    months = [p for p in r.periods() if p["period_type"] == "month"]
    complete = {p["period_start"] for p in months if p["complete"]}
    items = []
    for m in measures:
        mid = m["measure_id"]
        monthly = [
            row
            for row in r.results(mid, period_type="month", level="system")
            if row["period_start"] < quarter.end
        ]
        first = monthly[0]["period_start"] if monthly else None
        last = monthly[-1]["period_start"] if monthly else None
        done = sum(1 for row in monthly if row["period_start"] in complete)
        card = r.model_card(mid) if m.get("risk_adjusted") else None
        c = _num(card.get("c_statistic")) if card else None
        items.append(
            {
                "measure_id": mid,
                "title": m["title"],
                "group": _group_title(m.get("group") or "outcomes"),
                "version": m.get("version") or "",
                "description": m.get("description") or "",
                "unit_of_analysis": m.get("unit_of_analysis") or "",
                "method": m.get("method") or "",
                "citation": m.get("citation") or "",
                "direction": "lower is better"
                if m.get("direction") != "higher"
                else "higher is better",
                "window": f"{month(first)} to {month(last)}" if first else "no results",
                "months": len(monthly),
                "complete_months": done,
                "model": (
                    {
                        "c_statistic": round(c, 3) if c is not None else None,
                        "method": _months_in(card.get("method")),
                        "window": _months_in(card.get("window")),
                        **_calibration(card),
                    }
                    if card
                    else None
                ),
            }
        )
    return {
        "measures": items,
        "code_lists": code_lists(),
        "status_rule": STATUS_RULE,
        "signal_rule": SIGNAL_RULE,
        "suppression_rule": SUPPRESSION_RULE,
    }


# --------------------------------------------------------------------------- summary
def _say(n: Any, one: str, many: str) -> str:
    if n == deid.SUPPRESSED:
        return f"fewer than 11 {many}"
    return f"{n} {one if n == 1 else many}"


def summary_sentences(numbers: Mapping[str, Any]) -> list[str]:
    """Plain sentences from the numbers: what needs attention, what is being done, what
    improved. The CMO edits them before publishing."""
    rows = numbers["scorecard"]
    title = numbers["meta"]["period_title"]
    attention = [x for x in rows if x["status"] in ("not_met", "watch")]
    out = []
    if attention:
        parts = []
        for x in attention:
            whys = []
            if x["target"] is not None:
                whys.append(f"{x['value_text']} against a target of {x['target_text']}")
            if any(s["direction"] == "worse" for s in x["signals"]):
                whys.append("worse control-chart signal")
            why = ", ".join(whys)
            parts.append(f"{x['title']} ({x['status_label'].lower()}: {why})")
        out.append(
            f"{len(attention)} of {len(rows)} measures need attention in {title}: "
            + "; ".join(parts)
            + "."
        )
    else:
        targeted = sum(1 for x in rows if x["target"] is not None)
        out.append(
            f"No measure needs attention in {title}: {targeted} of {len(rows)} measures have a "
            "target and none missed it, and no control chart signalled worse."
        )
    doing = []
    safety = numbers.get("safety") or {}
    if safety:
        doing.append(_say(safety.get("actions_open"), "open RCA² action", "open RCA² actions"))
        doing.append(_say(safety.get("serious"), "serious safety event", "serious safety events"))
    review = numbers.get("review")
    if review:
        doing.append(_say(review.get("fppe_open"), "open FPPE", "open FPPEs"))
        doing.append(
            _say(review.get("peer_review_opened"), "peer review opened", "peer reviews opened")
        )
    if doing:
        out.append("Being done: " + ", ".join(doing) + ".")
    improved = []
    for x in rows:
        now, before = x["value"], x["last_year"]
        if now is None or before is None or now == before:
            continue
        better = now < before if x["direction"].startswith("lower") else now > before
        if better:
            improved.append(f"{x['title']} ({x['last_year_text']} to {x['value_text']})")
    if improved:
        out.append("Improved on the same quarter last year: " + "; ".join(improved) + ".")
    else:
        out.append("No measure improved on the same quarter last year.")
    return out


# --------------------------------------------------------------------------- the report
def ordered_measures() -> list[Mapping[str, Any]]:
    """``quality__measure`` in the report's order: by group (``GROUPS``), then by id."""
    order = list(GROUPS)

    def key(m: Mapping[str, Any]) -> tuple[int, str]:
        group = m.get("group") or "outcomes"
        return (order.index(group) if group in order else len(order), str(m["measure_id"]))

    return sorted(r.list_measures(), key=key)


def build(
    quarter: Quarter, site: str | None = None, *, built_month: str = "", charts: bool = True
) -> dict[str, Any]:
    """The numbers of the board report (what the template receives), de-identified and checked.

    ``site`` (a site code) puts the scorecard and outcomes at that site; the safety and
    medical-staff sections are system-wide (their counts are not kept by site).
    """
    with r.session():
        return _build(quarter, site, built_month=built_month, charts=charts)


def _build(quarter: Quarter, site: str | None, *, built_month: str, charts: bool) -> dict[str, Any]:
    measures = ordered_measures()
    level = "site" if site else "system"
    rows = scorecard_rows(measures, quarter, level=level, unit=site, charts=charts)
    site_name = None
    if site:
        names = sites_section(measures, quarter, site)["sites"]
        site_name = names[0] if names else site
    numbers: dict[str, Any] = {
        "meta": {
            "period": quarter.label,
            "period_title": quarter.title,
            "months": f"{month_title(quarter.start)} to {month_title(_last_month(quarter))}",
            "site": site or "",
            "site_title": site_name or "All sites",
            "built_month": built_month,
        },
        "groups": [
            {"key": k, "title": _group_title(k)}
            for k in GROUPS
            if any(x["group"] == k for x in rows)
        ],
        "scorecard": rows,
        "sites": sites_section(measures, quarter, site),
        "safety": safety_section(quarter),
        "staff": staff_section(quarter),
        "review": review_section(quarter),
        "methods": methods_section(measures, quarter),
    }
    numbers["summary"] = summary_sentences(numbers)
    deid.check(numbers)
    return numbers


def _last_month(quarter: Quarter) -> date:
    return date(quarter.year, 3 * quarter.q, 1)


def with_summary(numbers: dict[str, Any], text: str) -> dict[str, Any]:
    """The numbers with the CMO's summary (one sentence a line) in place of the generated."""
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    out = {**numbers, "summary": sentences}
    deid.check(out)
    return out


# --------------------------------------------------------------------------- department
def department_scorecard(quarter: Quarter, department: str, *, names: bool) -> dict[str, Any]:
    """A department's scorecard (the board's shape, for its chair): each measure at the
    department level, with its practitioners (named when ``names``). Not de-identified: the
    chair's page, sent with ``Cache-Control: no-store``. Trends are the monthly department
    values (control charts are computed for the system and sites only)."""
    with r.session():
        return _department(quarter, department, names=names)


def _department(quarter: Quarter, department: str, *, names: bool) -> dict[str, Any]:
    measures = ordered_measures()
    rows = scorecard_rows(measures, quarter, level="department", unit=department, charts=False)
    by_id = {m["measure_id"]: m for m in measures}
    title = department
    for row in rows:
        m = by_id[row["measure_id"]]
        monthly = [
            x
            for x in r.results(
                m["measure_id"], period_type="month", level="department", unit_id=department
            )
            if x["period_start"] < quarter.end
        ][-TREND_MONTHS:]
        if monthly:
            title = str(monthly[-1].get("unit_name") or department)
        row["trend_svg"] = sparkline([_num(x["rate"]) for x in monthly], [False] * len(monthly))
        people = r.practitioners_in(m["measure_id"], [department], year=None)
        detail = []
        for x in r.results(
            m["measure_id"], period_type="quarter", level="practitioner", period_start=quarter.start
        ):
            if str(x["unit_id"]) not in people:
                continue
            detail.append(
                {
                    "who": str(x.get("unit_name") or x["unit_id"]) if names else "A practitioner",
                    "n": int(x["denominator"]),
                    "value_text": fmt(x.get("rate"), m),
                    "oe_text": oe_text(
                        Cell(
                            True,
                            int(x["denominator"]),
                            _num(x.get("rate")),
                            _num(x.get("oe")),
                            _num(x.get("ci_low")),
                            _num(x.get("ci_high")),
                        )
                    )
                    if m.get("risk_adjusted")
                    else "–",
                }
            )
        row["practitioners"] = sorted(detail, key=lambda d: (-d["n"], d["who"]))
    return {"department": department, "title": title, "period_title": quarter.title, "rows": rows}
