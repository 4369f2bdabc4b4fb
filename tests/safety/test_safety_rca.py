"""RCA² investigation: team (stops the 72-hour clock), timeline, causal statements with the five
rules, the action hierarchy (strength set by the action's type), the weak-plan flag, and "did
it work?" on a real u-chart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cmo.safety.analytics import action_effect
from cmo.safety.models import Action, Investigation

pytestmark = pytest.mark.django_db


@pytest.fixture
def inv(make_event: Any) -> Investigation:
    return Investigation.objects.create(event=make_event(sentinel=True))


def _post(client: Any, inv: Investigation, **data: Any) -> Any:
    return client.post(f"/safety/event/{inv.event.pk}/rca/", data, follow=True)


def _action(inv: Investigation, **over: Any) -> dict[str, Any]:
    return {
        "op": "action",
        "description": "Put bed alarms on every bed",
        "kind": "training",
        "owner": "Nurse manager",
        "due": "2025-03-01",
        "status": "planned",
        "measure_kind": "safety",
        "measure_id": "fall",
        **over,
    }


def test_team_timeline_and_causes(client_for: Any, inv: Investigation) -> None:
    client = client_for("safety_officer")
    _post(client, inv, op="team", team="Dr A – physician lead\nRN B – nurse")
    inv.refresh_from_db()
    assert inv.members == ["Dr A – physician lead", "RN B – nurse"] and inv.team_formed_at
    _post(client, inv, op="timeline", at="2024-06-03T08:00", fact="Patient admitted")
    assert inv.timeline.get().fact == "Patient admitted"
    page = _post(
        client,
        inv,
        op="cause",
        statement="No bed alarm on the ward increased the likelihood of an unwitnessed exit",
        factor="environment",
        rule_cause_effect="on",
        rule_specific="on",
    ).content.decode()
    assert inv.causes.get().rules_met == 2 and "2/5 rules" in page


def test_strength_comes_from_the_hierarchy_and_a_weak_plan_is_flagged(
    client_for: Any, inv: Investigation
) -> None:
    client = client_for("safety_officer")
    page = _post(client, inv, **_action(inv, strength="stronger")).content.decode()
    a = inv.actions.get()
    assert a.strength == "weaker"  # training is weaker, whatever was posted
    assert 'id="weak-plan"' in page
    page = _post(
        client, inv, **_action(inv, kind="forcing", description="Hard stop")
    ).content.decode()
    assert inv.actions.get(kind="forcing").strength == "stronger"
    assert 'id="weak-plan"' not in page
    inv.refresh_from_db()
    assert not inv.weak_plan


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"measure_id": "nonsense"}, "measure_id", "is an event type"),
        ({"status": "done"}, "implemented_on", "needs its date"),
        ({"due": ""}, "due", "required"),
    ],
)
def test_action_form_messages(
    client_for: Any, inv: Investigation, over: dict[str, Any], field: str, text: str
) -> None:
    page = _post(client_for("safety_officer"), inv, **_action(inv, **over)).content.decode()
    assert text in page and not inv.actions.exists()
    assert "Put bed alarms on every bed" in page  # kept


def _falls(make_event: Any, unit: Any, months: list[date], per_month: int) -> None:
    for m in months:
        for k in range(per_month):
            when = datetime(m.year, m.month, 5 + k, 12, tzinfo=UTC)
            make_event(event_type="fall", unit=unit, occurred_at=when, reported_at=when)


MONTHS_2024 = [date(2024, m, 1) for m in range(1, 13)]
MONTHS_2025 = [date(2025, m, 1) for m in range(1, 13)]


def _fall_action(inv: Investigation, unit: Any) -> Action:
    return Action.objects.create(
        investigation=inv,
        description="Bed-exit alarms with a hard stop",
        kind="forcing",
        owner="CNO",
        due=date(2025, 1, 1),
        status="done",
        implemented_on=date(2025, 1, 1),
        measure_kind="safety",
        measure_id="fall",
        unit=unit,
    )


def test_a_shift_after_the_action_is_found(
    make_event: Any, directory: Any, registry_warehouse: Any, client_for: Any, inv: Investigation
) -> None:
    _falls(make_event, directory["icu"], MONTHS_2024, 3)  # ~10 per 1,000 patient days
    _falls(make_event, directory["icu"], MONTHS_2025[:2], 1)
    a = _fall_action(inv, directory["icu"])
    effect = action_effect(a)
    assert effect["problem"] is None
    # inv's own event is a fall in the ICU today (outside the warehouse's months); the last
    # stays of December 2025 run into January 2026, a 13th month after the action.
    assert (effect["n_before"], effect["n_after"]) == (12, 13)
    assert effect["shift"] is True
    assert effect["runs"]["longest_run"] > effect["runs"]["longest_run_max"]
    rules = [lyr for lyr in effect["spec"]["layer"] if lyr["mark"]["type"] == "rule"]
    assert rules[0]["data"]["values"][0]["x"] == "2025-01-01"
    page = client_for("safety_officer").get(f"/safety/action/{a.pk}/").content.decode()
    assert "A special-cause shift followed the action" in page


def test_no_shift_when_nothing_changed(
    make_event: Any, directory: Any, registry_warehouse: Any, inv: Investigation
) -> None:
    _falls(make_event, directory["icu"], MONTHS_2024 + MONTHS_2025, 3)
    effect = action_effect(_fall_action(inv, directory["icu"]))
    assert effect["problem"] is None and effect["shift"] is False


def test_too_short_a_baseline_is_said(
    make_event: Any, directory: Any, registry_warehouse: Any, inv: Investigation
) -> None:
    a = _fall_action(inv, directory["icu"])
    a.implemented_on = date(2024, 3, 1)
    a.save()
    _falls(make_event, directory["icu"], MONTHS_2024, 1)
    assert "a baseline needs 6" in action_effect(a)["problem"]


def test_a_quality_measure_as_the_actions_measure(
    inv: Investigation, results_warehouse: Any, settings: Any
) -> None:
    """The build's monthly results (the web tests' demo build: 24 months from January 2023)
    at system level, split at the action."""
    from cmo.web import warehouse

    settings.WAREHOUSE = results_warehouse
    warehouse.clear_cache()
    a = Action.objects.create(
        investigation=inv,
        description="Sepsis order set",
        kind="standardize",
        owner="CMO",
        due=date(2024, 1, 1),
        implemented_on=date(2024, 1, 1),
        status="done",
        measure_kind="quality",
        measure_id="IMORT",
    )
    effect = action_effect(a)
    assert effect["problem"] is None, effect
    # 2023's twelve months before; 2024 and any later month of discharges after.
    assert effect["n_before"] == 12 and effect["n_after"] >= 12
    assert effect["spec"]["layer"][-2]["data"]["values"][0]["x"] == "2024-01-01"
    a.measure_id = "no_such_measure"
    assert "no_such_measure" in action_effect(a)["problem"]


def test_action_progress_moves_the_phase_line(
    client_for: Any, inv: Investigation, directory: Any, registry_warehouse: Any
) -> None:
    a = _fall_action(inv, directory["icu"])
    client = client_for("safety_officer")
    url = f"/safety/action/{a.pk}/"
    page = client.post(url, {"status": "done", "implemented_on": ""}).content.decode()
    assert "An implemented action needs its date." in page
    r = client.post(url, {"status": "done", "implemented_on": "2024-09-01"})
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.implemented_on == date(2024, 9, 1) and a.phase_date == date(2024, 9, 1)
    assert a.history.first().history_user.username == "t_safety_officer"


def test_all_events_on_a_unit_is_the_registrys_safety_events(
    directory: Any, registry_warehouse: Any, inv: Investigation
) -> None:
    """An action on all events of a unit charts the registry's SAFETY_EVENTS there (its
    monthly results: events of app__safety_event over the NHSN patient days), not the app's
    own count: 3 falls a month in 2024, 1 a month from the action on."""
    a = _fall_action(inv, directory["icu"])
    a.measure_id = "all"
    effect = action_effect(a)
    assert effect["problem"] is None, effect
    assert effect["baseline"] == pytest.approx(1000 * 36 / (366 * 10))
    assert effect["shift"] is True
    # The same through the quality measure's id.
    a.measure_kind, a.measure_id = "quality", "SAFETY_EVENTS"
    again = action_effect(a)
    assert again["baseline"] == pytest.approx(effect["baseline"]) and again["shift"] is True
