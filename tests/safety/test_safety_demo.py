"""The demo seed on a real demo build (generate -> ingest -> measures): a year of reports with
the issue's mix, the sentinel event with a running clock, the CLABSI cluster's RCA² whose chart
shows the cluster, and one peer-review referral."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _nights(warehouse: Path, start: str, end: str) -> float:
    """Nights spent in the units within [start, end) (core__stay_unit), read directly."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(
            "SELECT sum(greatest(0, date_diff('day', greatest(first_ts::DATE, ?::DATE),"
            " least(last_ts::DATE, ?::DATE)))) FROM core__stay_unit"
            " WHERE first_ts::DATE < ?::DATE AND last_ts::DATE >= ?::DATE",
            [start, end, end, start],
        ).fetchone()
    finally:
        con.close()
    return float(row[0]) if row else 0.0


def _rebuild_with_events(e2e_warehouse: Path, tmp_path: Path, settings: Any) -> Path:
    """What `cmo demo` does after seeding: the sync exports app__safety_event, the build runs
    again (on a copy: the demo build is shared by the session)."""
    import shutil

    from cmo.measures.build import run
    from cmo.measures.safety import EVENT_TABLE
    from cmo.safety.analytics import event_table
    from cmo.warehouse import connect
    from cmo.warehouse.snapshot import publish
    from cmo.web import warehouse

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(e2e_warehouse, copy)
    wh = connect(copy)
    try:
        wh.write(EVENT_TABLE, event_table())
        run(wh, progress=False)
        publish(wh, "demo")
    finally:
        wh.close()
    settings.WAREHOUSE = copy
    warehouse.clear_cache()
    return copy


def test_seed(e2e_warehouse: Path, settings: Any, tmp_path: Path) -> None:
    from cmo.safety import interface
    from cmo.safety.analytics import action_effect
    from cmo.safety.demo import seed
    from cmo.safety.models import Action, Event

    settings.WAREHOUSE = e2e_warehouse
    # As in `cmo demo`: the sync has already queued the EHR's AdverseEvents.
    from cmo.safety import demo, services
    from cmo.safety.demo import REPORTS_PER_1000_DAYS

    demo.sync_directory(e2e_warehouse)
    queued = services.import_ehr_events(demo._ehr_events(e2e_warehouse))
    assert queued > 0
    counts = seed(e2e_warehouse)
    assert counts["units"] > 3 and counts["practitioners"] > 10
    # The demo build's last month is January 2025: the year of reports is 2024.
    days = _nights(e2e_warehouse, "2024-01-01", "2025-01-01")
    assert counts["reports"] == int(days * REPORTS_PER_1000_DAYS / 1000) > 30
    events = Event.objects.all()
    incidents = events.filter(category="incident", source="report", occurred_at__year=2024)
    mild_or_none = incidents.filter(harm__in=["none", "mild"]).count()
    assert mild_or_none / incidents.count() > 0.6  # 85% expected; a small sample here
    assert events.filter(anonymous=True, reporter__isnull=True).exists()
    assert (
        events.filter(event_type="medication").exclude(merp="").count()
        == events.filter(event_type="medication").count()
    )
    sentinel = events.get(sentinel=True)
    assert sentinel.team_due and sentinel.analysis_due and sentinel.investigation.team_formed_at
    assert not sentinel.investigation.plan_completed_at  # RCA² in progress
    [ref] = interface.referrals_for_review()
    assert ref.practitioner_code
    clabsi = Action.objects.filter(measure_id="infection")
    assert clabsi.count() == 3 and clabsi.filter(strength="stronger").exists()
    a = clabsi.first()
    # The investigated unit is the one with the most CLABSI (in the small test build there are
    # only a few; the 20,000-patient `cmo demo` puts the cluster in Riverside's ICU).
    infections = Event.objects.filter(event_type="infection")
    assert infections.exists() and infections.filter(unit=a.unit).exists()
    _rebuild_with_events(e2e_warehouse, tmp_path, settings)
    effect = action_effect(a)
    assert effect.get("problem") is None, effect
    assert effect["spec"]["layer"][-2]["mark"]["type"] == "rule"  # the phase line
    # The EHR's own AdverseEvents (falls with injury, pressure injuries) are queued, typed.
    ehr = events.filter(source="ehr")
    assert ehr.filter(event_type__in=["fall", "pressure_injury"]).exists()
    assert not ehr.filter(event_type="other").exists()
    assert seed(e2e_warehouse) == {"events": 0}  # idempotent
