"""The review rules without Django: cycles, the FPPE signal trigger, shrinkage, grades, case
clocks, conflicts of interest (given / when / then)."""

from __future__ import annotations

from datetime import date

import pytest

from cmo.review import rules


def test_cycles_are_half_years_or_years() -> None:
    c = rules.parse_cycle("2024h2")
    assert (c.label, c.start, c.end) == ("2024H2", date(2024, 7, 1), date(2025, 1, 1))
    assert len(c.months()) == 6 and c.due == date(2025, 3, 2)
    assert rules.parse_cycle("2024H1").end == date(2024, 7, 1)
    assert rules.parse_cycle("2024").months()[-1] == date(2024, 12, 1)
    with pytest.raises(ValueError, match="not a cycle"):
        rules.parse_cycle("2024Q3")


def test_last_complete_cycle_ends_at_the_data() -> None:
    assert rules.last_complete_cycle(date(2025, 1, 1)).label == "2024H2"
    assert rules.last_complete_cycle(date(2024, 12, 1)).label == "2024H1"
    assert rules.last_complete_cycle(date(2024, 7, 1)).label == "2024H1"
    assert rules.last_complete_cycle(date(2025, 1, 1), 12).label == "2024"


def signal(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "measure_id": "READM30",
        "level": "practitioner",
        "unit_id": "pr1",
        "kind": "funnel_99_8",
        "direction": "worse",
    }
    row.update(over)
    return row


def test_funnel_signal_with_small_q_proposes() -> None:
    ok, why = rules.signal_proposes(signal(q_value=0.01), 0.05)
    assert ok and "q = 0.01" in why


def test_funnel_signal_with_large_q_does_not_propose() -> None:
    """Given 40 surgeons, one outside 99.8% by chance has a large q: no proposal."""
    ok, why = rules.signal_proposes(signal(q_value=0.2), 0.05)
    assert not ok and "multiplicity" in why
    assert not rules.signal_proposes(signal(q_value=None), 0.05)[0]


def test_the_q_level_is_the_organisations() -> None:
    assert rules.signal_proposes(signal(q_value=0.08), 0.10)[0]
    assert not rules.signal_proposes(signal(q_value=0.08), 0.05)[0]


def test_a_build_without_q_values_uses_the_99_8_limit() -> None:
    ok, why = rules.signal_proposes(signal(), 0.05)
    assert ok and "no q-values" in why


def test_cusum_alarm_proposes() -> None:
    assert rules.signal_proposes(signal(kind="cusum"), 0.05)[0]


@pytest.mark.parametrize(
    "over",
    [
        {"kind": "funnel_95", "q_value": 0.001},  # the 95% limit alone is not enough
        {"direction": "better", "q_value": 0.001},
        {"level": "department", "q_value": 0.001},
        {"kind": "sigma"},
        {"kind": "runs"},
    ],
)
def test_other_signals_do_not_propose(over: dict[str, object]) -> None:
    assert not rules.signal_proposes(signal(**over), 0.05)[0]


def test_shrinkage_pulls_small_units_toward_the_mean() -> None:
    """Given practitioners whose O/E truly varies (0.5 to 2), a small one with O/E 3 is pulled
    toward the mean far more than a large one with the same O/E; the estimates are those of
    the quality results' shrinkage (one model everywhere)."""
    from cmo.stats.shrinkage import eb_ratio

    units = {f"p{i}": (20, 10.0 + 10 * (i % 4), 20.0) for i in range(40)}
    units |= {"small": (5, 3.0, 1.0), "large": (400, 300.0, 100.0), "none": (0, 0.0, 0.0)}
    shrunk = rules.shrink_all(units)
    small, large = shrunk["small"], shrunk["large"]
    assert 1.0 <= small.ratio < 2.0 < large.ratio <= 3.0
    assert small.low < small.ratio < small.high
    assert "none" not in shrunk  # no cases: not in the family, nothing to shrink
    codes = [c for c in units if c != "none"]
    same = eb_ratio([units[c][1] for c in codes], [units[c][2] for c in codes])
    assert small.ratio == pytest.approx(same.shrunk_ratio[codes.index("small")])
    assert rules.shrink_all({"a": (3, 1.0, 1.0), "b": (3, 2.0, 1.0)}) == {}  # too few units
    # Little variation beyond Poisson noise: one unit's O/E of 3 is pulled most of the way to
    # the mean, and the interval keeps the uncertainty of that mean (never zero width).
    flat = rules.shrink_all(
        {f"p{i}": (10, 10.0, 10.0) for i in range(30)} | {"x": (10, 30.0, 10.0)}
    )
    assert 1.0 < flat["x"].ratio < 1.5 and flat["x"].high - flat["x"].low > 0.05


def test_grades() -> None:
    assert rules.grade(1.6, 1.25, 1.5, True) == "action"
    assert rules.grade(1.3, 1.25, 1.5, True) == "review"
    assert rules.grade(1.0, 1.25, 1.5, True) == "acceptable"
    assert rules.grade(0.7, 0.9, 0.8, False) == "action"
    assert rules.grade(None, 1.25, 1.5, True) == "none"
    assert rules.grade(5.0, None, None, True) == "none"


def test_case_clocks() -> None:
    opened = date(2026, 1, 1)
    assert rules.case_overdue(opened, "open", date(2026, 2, 14)) is None  # day 44
    assert rules.case_overdue(opened, "review", date(2026, 2, 16)) == "committee"  # day 46
    assert rules.case_overdue(opened, "committee", date(2026, 2, 16)) is None
    assert rules.case_overdue(opened, "committee", date(2026, 4, 2)) == "closure"  # day 91
    assert rules.case_overdue(opened, "closed", date(2027, 1, 1)) is None
    assert rules.case_overdue(opened, "open", date(2026, 1, 20), committee_days=10) == "committee"


def test_conflicts_of_interest() -> None:
    base = {"reviewer_departments": {1}, "practitioner_departments": {1}, "declared": set()}
    assert "own case" in (rules.conflict(7, 7, exclude_same_department=False, **base) or "")
    assert rules.conflict(8, 7, exclude_same_department=False, **base) is None
    assert "same department" in (rules.conflict(8, 7, exclude_same_department=True, **base) or "")
    declared = {**base, "declared": {(8, 7)}}
    assert "declared" in (rules.conflict(8, 7, exclude_same_department=False, **declared) or "")
    other = {**base, "reviewer_departments": {2}}
    assert rules.conflict(8, 7, exclude_same_department=True, **other) is None
    assert rules.conflict(8, None, exclude_same_department=True, **base) is None
