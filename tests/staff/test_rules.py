"""The office's rules as plain functions."""

from __future__ import annotations

from datetime import date

from cmo.staff import rules


def test_expiry_windows() -> None:
    today = date(2026, 6, 1)
    assert rules.window(date(2026, 5, 31), today) == "expired"
    assert rules.window(today, today) == "30"
    assert rules.window(date(2026, 7, 1), today) == "30"  # 30 days left
    assert rules.window(date(2026, 7, 2), today) == "60"
    assert rules.window(date(2026, 8, 30), today) == "90"
    assert rules.window(date(2026, 8, 31), today) is None
    assert rules.window(None, today) is None


def test_work_gaps_of_six_months_or_more_are_flagged() -> None:
    today = date(2026, 6, 1)
    periods = [
        (date(2010, 7, 1), date(2015, 6, 30)),
        (date(2015, 12, 30), date(2018, 1, 1)),  # 6 months exactly after 2015-06-30: flagged
        (date(2018, 5, 1), None),  # 4-month gap: not flagged; open period runs to today
    ]
    assert rules.work_gaps(periods, today) == [(date(2015, 6, 30), date(2015, 12, 30))]
    # An overlapping period does not create a gap.
    assert rules.work_gaps([(date(2010, 1, 1), date(2012, 1, 1)),
                            (date(2011, 1, 1), date(2013, 1, 1))], today) == []  # fmt: skip


def test_add_months_clamps_to_month_end() -> None:
    assert rules.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert rules.add_months(date(2026, 11, 15), 24) == date(2028, 11, 15)


def test_verification_is_stale_after_120_days() -> None:
    decision = date(2026, 6, 1)
    assert not rules.verification_stale(date(2026, 2, 1), decision)  # 120 days
    assert rules.verification_stale(date(2026, 1, 31), decision)  # 121 days


def test_cme_hours_in_the_cycle_only() -> None:
    credits = [(date(2024, 1, 1), 10), (date(2025, 6, 1), 12.5), (date(2026, 1, 1), 40)]
    assert rules.cme_earned(credits, date(2024, 1, 1), date(2026, 1, 1)) == 22.5


def test_state_clock_overdue() -> None:
    assert rules.overdue("chair_review", date(2026, 5, 1), date(2026, 5, 16))
    assert not rules.overdue("chair_review", date(2026, 5, 1), date(2026, 5, 15))
    assert not rules.overdue("closed", date(2020, 1, 1), date(2026, 1, 1))


def test_document_magic() -> None:
    assert rules.document_magic_ok(".pdf", b"%PDF-1.7")
    assert not rules.document_magic_ok(".pdf", b"MZ\x90\x00")
