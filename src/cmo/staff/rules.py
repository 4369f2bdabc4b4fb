"""The office's rules as plain functions (no Django): expiry windows, work-history gaps, CME,
verification age, application clocks.

Sources (docs/staff.md has the details):

- NCQA Credentialing Standards 2025, CR 3 (verification of credentials): each element verified
  no more than 120 calendar days before the credentialing decision; work-history gaps of six
  months or more explained; recredentialing at least every 36 months (CR 4).
- The Joint Commission, Medical Staff chapter MS.06.01.07 / MS.07.01.03: privileges are
  renewed at least every two years (our default cycle: 24 months, at most 36 allowed).
- The decision letter is due 30 days after the decision (the office's policy from issue 15).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

DEFAULT_CYCLE_MONTHS = 24  # TJC: privileges renewed at least every two years
MAX_CYCLE_MONTHS = 36  # NCQA CR 4: recredentialing at least every 36 months
VERIFICATION_DAYS = 120  # NCQA CR 3: verification age at the decision
LETTER_DUE_DAYS = 30
GAP_MONTHS = 6  # NCQA CR 3: work-history gaps of 6 months or more need an explanation
WINDOWS = (30, 60, 90)  # the expirables queue's buckets, in days
MONITOR_DAYS = 31  # NCQA 2025 / 42 CFR 455.436: licence and exclusion checks at least monthly
DEFAULT_CME_HOURS = 50  # per cycle; settings.STAFF_CME_HOURS overrides it

# Days an application may stay in each state before it is flagged overdue (the office's
# targets; the whole path fits in the 90-180 days users complain about, aiming at the low end).
STATE_TARGET_DAYS = {
    "received": 5,
    "verification": 30,
    "chair_review": 14,
    "committee": 30,
    "mec": 30,
    "board": 30,
    "letter": LETTER_DUE_DAYS,
}


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window(expires: date | None, today: date) -> str | None:
    """``"expired"``, ``"30"``, ``"60"``, ``"90"`` (days left at most) or None (later / none)."""
    if expires is None:
        return None
    left = (expires - today).days
    if left < 0:
        return "expired"
    for days in WINDOWS:
        if left <= days:
            return str(days)
    return None


def work_gaps(
    periods: Iterable[tuple[date, date | None]], today: date, months: int = GAP_MONTHS
) -> list[tuple[date, date]]:
    """Gaps of ``months`` months or more between the periods (an open period runs to today)."""
    spans = sorted((start, end or today) for start, end in periods)
    gaps: list[tuple[date, date]] = []
    covered: date | None = None
    for start, end in spans:
        if covered is not None and start > covered and add_months(covered, months) <= start:
            gaps.append((covered, start))
        covered = end if covered is None else max(covered, end)
    return gaps


def cme_earned(credits: Iterable[tuple[date, Decimal | float]], start: date, end: date) -> float:
    """Hours earned in ``[start, end)``."""
    return float(sum((Decimal(str(h)) for d, h in credits if start <= d < end), Decimal(0)))


def verification_stale(verified_on: date, decision: date) -> bool:
    """True when the verification will be older than 120 days at the decision (NCQA CR 3)."""
    return (decision - verified_on).days > VERIFICATION_DAYS


def overdue(state: str, since: date, today: date) -> bool:
    target = STATE_TARGET_DAYS.get(state)
    return target is not None and (today - since).days > target


def letter_due(decided_on: date) -> date:
    return decided_on + timedelta(days=LETTER_DUE_DAYS)


_MAGIC = {".pdf": (b"%PDF-",), ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",)}


def document_magic_ok(ext: str, head: bytes) -> bool:
    """The first bytes match the extension (a renamed executable is not a PDF)."""
    return any(head.startswith(m) for m in _MAGIC.get(ext, ()))
