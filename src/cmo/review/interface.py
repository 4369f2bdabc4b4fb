"""What other domains may use of practitioner review (the import contract's declared door).

The board reads :func:`board_counts`: counts and timeliness only, never a practitioner's name
or id (peer review is confidential; the board sees aggregates)."""

from __future__ import annotations

from datetime import date
from typing import Any


def board_counts(start: date, end: date) -> dict[str, Any]:
    """Over [start, end] (dates inclusive):

    - ``oppe_due``: OPPE profiles whose decision was due in the period;
      ``oppe_done_on_time``: of those, decided by the due date;
      ``oppe_completion``: per department ``{"department": name, "due": n, "done": n}``;
    - ``fppe_open`` (active at the end), ``fppe_opened``, ``fppe_closed`` (proposals that a
      chair has not accepted are not FPPEs yet and are not counted);
    - ``peer_review_opened``, ``peer_review_closed``, ``peer_review_overdue`` (open cases past
      the committee or closure clock), ``peer_review_median_days`` (referral to closure of the
      cases closed in the period; None without any).
    """
    from cmo.review.services import board_counts as counts

    return counts(start, end)
