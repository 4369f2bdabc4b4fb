"""The review domain's rules as plain functions (no Django): OPPE cycles, the FPPE signal
trigger, shrinkage of a practitioner's O/E, indicator thresholds, case clocks and the
conflict-of-interest rules. Sources are cited beside each rule and in docs/review.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# The Joint Commission's FAQ on OPPE: data evaluated every 12 months is "periodic, not
# ongoing"; we default to 6-month cycles (configurable up to 12: settings.REVIEW_OPPE_MONTHS).
DEFAULT_CYCLE_MONTHS = 6
OPPE_DUE_DAYS = 60  # the chair's decision is on time within 60 days of the cycle's end
MIN_CASES = 25  # below this a practitioner's rate is noise (CMS/Hospital Compare's floor of 25)
Q_LEVEL = 0.05  # Benjamini–Hochberg false-discovery rate for the FPPE signal trigger
COMMITTEE_DAYS = 45  # a case reaches the committee within 45 days of referral
CLOSURE_DAYS = 90  # and is closed within 90
# Every peer-review page, API answer and document carries this marking (state peer-review
# privilege statutes protect documents of a peer-review committee that are marked as such).
CONFIDENTIAL = "Confidential peer review document"

_CYCLE = re.compile(r"^(\d{4})(?:H([12]))?$")


@dataclass(frozen=True)
class Cycle:
    label: str
    start: date  # first day
    end: date  # first day after

    @property
    def due(self) -> date:
        return self.end + timedelta(days=OPPE_DUE_DAYS)

    def months(self) -> list[date]:
        out, d = [], self.start
        while d < self.end:
            out.append(d)
            d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        return out


def parse_cycle(label: str) -> Cycle:
    """``2024H2`` (July–December 2024), ``2024H1`` or ``2024`` (a 12-month cycle)."""
    m = _CYCLE.match(label.strip().upper())
    if not m:
        raise ValueError(f"{label!r} is not a cycle: use YYYYH1, YYYYH2 or YYYY")
    year = int(m.group(1))
    if m.group(2) is None:
        return Cycle(str(year), date(year, 1, 1), date(year + 1, 1, 1))
    if m.group(2) == "1":
        return Cycle(f"{year}H1", date(year, 1, 1), date(year, 7, 1))
    return Cycle(f"{year}H2", date(year, 7, 1), date(year + 1, 1, 1))


def last_complete_cycle(data_end: date, months: int = DEFAULT_CYCLE_MONTHS) -> Cycle:
    """The latest cycle that ends on or before ``data_end`` (the first day after the data)."""
    if months == 12:
        return parse_cycle(str(data_end.year - 1))
    if data_end >= date(data_end.year, 7, 1):
        return parse_cycle(f"{data_end.year}H1")
    return parse_cycle(f"{data_end.year - 1}H2")


# ---------------------------------------------------------------- the FPPE signal trigger


def signal_proposes(row: Mapping[str, Any], q_level: float = Q_LEVEL) -> tuple[bool, str]:
    """Does a ``quality__signal`` row propose an FPPE? (the system proposes, the chair decides)

    Only a practitioner's *worse* signals count, and only two kinds:
    - a funnel point outside the 99.8% limits (Spiegelhalter, *Funnel plots for comparing
      institutional performance*, Stat Med 2005) whose Benjamini–Hochberg q-value (Benjamini &
      Hochberg, JRSS B 1995; over the practitioners of one measure and year) is below
      ``q_level``. A build without q-values (older than the statistics issue) leaves the row
      without the column: the 99.8% limit alone then decides, and the evidence says so;
    - a risk-adjusted Bernoulli CUSUM alarm (Steiner et al., Biostatistics 2000).
    Returns (proposes, why).
    """
    if row.get("level") != "practitioner" or row.get("direction") != "worse":
        return False, "not a practitioner's worse signal"
    kind = str(row.get("kind") or "")
    if kind == "cusum":
        return True, "risk-adjusted CUSUM alarm"
    if kind != "funnel_99_8":
        return False, f"{kind} signals do not propose an FPPE"
    if "q_value" not in row:
        return True, "outside the funnel's 99.8% limits (this build has no q-values)"
    q = row.get("q_value")
    if q is None or (isinstance(q, float) and math.isnan(q)):
        return False, "outside 99.8% but without a q-value"
    if float(q) < q_level:
        return True, f"outside the funnel's 99.8% limits, q = {float(q):.3g} < {q_level:g}"
    return False, f"outside 99.8% but q = {float(q):.3g} ≥ {q_level:g} (multiplicity)"


# ---------------------------------------------------------------- OPPE indicators


@dataclass(frozen=True)
class Shrunk:
    ratio: float
    low: float
    high: float


def shrink_all(totals: Mapping[str, tuple[int, float, float]]) -> dict[str, Shrunk]:
    """The empirical-Bayes O/E of every practitioner with cases, from (cases, observed,
    expected) over the cycle, with its 95% posterior interval: the same gamma-Poisson model
    and moment estimator as the quality results' shrunk O/E (``cmo.stats.shrinkage.eb_ratio``:
    Clayton & Kaldor, Biometrics 1987; Marshall, Appl Stat 1991; the prior never more precise
    than its family mean, Morris JASA 1983). The family is every practitioner with at least one
    case of the measure in the cycle; with fewer than three of them nothing is shrunk."""
    from cmo.stats.shrinkage import eb_ratio

    codes = [c for c, (n, _, e) in totals.items() if n >= 1]
    if not codes:
        return {}
    est = eb_ratio([totals[c][1] for c in codes], [totals[c][2] for c in codes])
    ratio, low, high = (
        est[k].to_numpy(float) for k in ("shrunk_ratio", "shrunk_low", "shrunk_high")
    )
    return {
        c: Shrunk(float(ratio[i]), float(low[i]), float(high[i]))
        for i, c in enumerate(codes)
        if math.isfinite(ratio[i])
    }


def grade(
    value: float | None, review_at: float | None, action_at: float | None, higher_is_worse: bool
) -> str:
    """``acceptable``, ``review`` or ``action`` against the indicator's thresholds (the
    department's), or ``none`` without a value or thresholds."""
    if value is None or (review_at is None and action_at is None):
        return "none"
    sign = 1 if higher_is_worse else -1
    if action_at is not None and sign * value >= sign * action_at:
        return "action"
    if review_at is not None and sign * value >= sign * review_at:
        return "review"
    return "acceptable"


# ---------------------------------------------------------------- peer-review clocks


def case_due(opened: date, committee_days: int, closure_days: int) -> tuple[date, date]:
    return opened + timedelta(days=committee_days), opened + timedelta(days=closure_days)


def case_overdue(
    opened: date,
    status: str,
    today: date,
    *,
    committee_days: int = COMMITTEE_DAYS,
    closure_days: int = CLOSURE_DAYS,
) -> str | None:
    """``"committee"`` (not in committee after 45 days), ``"closure"`` (open after 90) or
    None (closed and merged cases are never overdue)."""
    if status in ("closed", "merged"):
        return None
    to_committee, to_close = case_due(opened, committee_days, closure_days)
    if today > to_close:
        return "closure"
    if status in ("open", "review") and today > to_committee:
        return "committee"
    return None


# ---------------------------------------------------------------- conflicts of interest


def conflict(
    reviewer: int,
    practitioner: int | None,
    *,
    reviewer_departments: set[int],
    practitioner_departments: set[int],
    declared: set[tuple[int, int]],
    exclude_same_department: bool,
) -> str | None:
    """Why ``reviewer`` may not review a case of ``practitioner`` (directory ids), or None.

    The rules (after the Joint Commission's MS.05.01.01 requirement of a defined, fair peer
    review process and the usual bylaws' conflict clauses): never the practitioner under
    review; not a reviewer who declared a conflict with them; not a member of the same
    department when the organisation says so (partners of one group).
    """
    if practitioner is None:
        return None
    if reviewer == practitioner:
        return "the practitioner under review cannot review their own case"
    if (reviewer, practitioner) in declared:
        return "the reviewer declared a conflict of interest with this practitioner"
    if exclude_same_department and reviewer_departments & practitioner_departments:
        return "the reviewer is in the same department (excluded by the organisation's rule)"
    return None
