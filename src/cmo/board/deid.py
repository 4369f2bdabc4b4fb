"""De-identification of what the board report shows, by construction (no Django).

- Counts between 1 and 10 are suppressed, and so is any rate or ratio from which such a count
  could be derived (CMS Cell Size Suppression Policy, CMS Data Use Agreement: "no cell (e.g.
  admittances, discharges, patients, services) 10 or less may be displayed", including by
  percentages or other mathematical formulas).
- No patient or practitioner names or identifiers: :func:`check` refuses a report whose numbers
  hold a key that carries one (``patient_id``, ``practitioner_name``, ``stay_id``, ``mrn``,
  ``npi`` ...).
- Dates to the month: :func:`check` refuses a full date (YYYY-MM-DD) anywhere in the numbers;
  months are written ``YYYY-MM``.

The report's template receives only these numbers, so nothing else can reach the page, the
HTML file or the PDF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SMALL_MIN, SMALL_MAX = 1, 10
SUPPRESSED = "<11"
SUPPRESSED_NOTE = "suppressed (a count of 1–10, CMS cell-size rule)"
FORBIDDEN_KEYS = re.compile(
    r"(patient|practitioner|stay|encounter|reporter|user|person)_?(id|ids|name|names|code)s?$"
    r"|^(mrn|npi|given_name|family_name|birth_date|dob)$"
)
FULL_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


class NotDeidentified(ValueError):
    """The report's numbers hold something a de-identified report must not."""


def small(n: float | int | None) -> bool:
    """A count of 1 to 10 (after rounding): the cells the CMS rule suppresses."""
    if n is None:
        return False
    r = round(float(n))
    return SMALL_MIN <= r <= SMALL_MAX


def cell(n: float | int | None) -> int | str | None:
    """A count as shown: 0 and 11+ as themselves, 1–10 as ``"<11"``, None as None."""
    if n is None:
        return None
    r = int(round(float(n)))
    return SUPPRESSED if small(r) else r


# Counts of calendar months, not of people or events: never suppressed.
NOT_CELLS = frozenset({"months", "months_screened"})


def cells(counts: Mapping[str, Any]) -> dict[str, Any]:
    """Every count of a (nested) mapping through :func:`cell` (but months, ``NOT_CELLS``);
    other values unchanged."""
    out: dict[str, Any] = {}
    for k, v in counts.items():
        if isinstance(v, Mapping):
            out[k] = cells(v)
        elif isinstance(v, bool) or not isinstance(v, int) or k in NOT_CELLS:
            out[k] = v
        else:
            out[k] = cell(v)
    return out


def rate_hidden(numerator: float | None, denominator: float | None, *, counts: bool) -> bool:
    """Whether a rate must be hidden: its denominator is 1–10, or (for measures whose numerator
    counts patients or events, ``counts``) its numerator is 1–10."""
    return small(denominator) or (counts and small(numerator))


def text(v: Any) -> str:
    """A shown count: ``"<11"`` stays, numbers get thousands separators, None is a dash."""
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"


def check(numbers: Any, path: str = "") -> None:
    """Raise :class:`NotDeidentified` if ``numbers`` hold an identifying key or a full date."""
    if isinstance(numbers, Mapping):
        for k, v in numbers.items():
            if FORBIDDEN_KEYS.search(str(k).lower()):
                raise NotDeidentified(f"{path}/{k}: an identifying field")
            check(v, f"{path}/{k}")
    elif isinstance(numbers, list | tuple):
        for i, v in enumerate(numbers):
            check(v, f"{path}/{i}")
    elif isinstance(numbers, str):
        if FULL_DATE.search(numbers):
            raise NotDeidentified(f"{path}: a full date ({numbers[:40]!r}); months only")
    elif numbers is not None and not isinstance(numbers, int | float | bool):
        raise NotDeidentified(f"{path}: {type(numbers).__name__} (plain numbers and text only)")
