"""The overview page: every domain's tiles for the signed-in user, what needs attention first,
and nothing a role may not see (counts only; practitioner-level signals only for roles that
see practitioners; a reporter sees only their own reports)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def _sections(client: Any) -> list[dict[str, Any]]:
    response = client.get("/overview/")
    assert response.status_code == 200
    sections: list[dict[str, Any]] = response.context["sections"]
    page = response.content.decode()
    for s in sections:  # what the context holds is what the page shows
        assert f'id="overview-{s["name"]}"' in page
        for t in s["tiles"]:
            assert f'<p class="value">{t.value}</p>' in page
    return sections


def _tiles(client: Any) -> dict[str, dict[str, Any]]:
    return {
        t.title: {"domain": s["name"], "value": t.value, "attention": t.attention}
        for s in _sections(client)
        for t in s["tiles"]
    }


def _events() -> None:
    """Two open events (one new, one classified serious with its team clock run out), one
    closed, and a late corrective action."""
    from django.utils import timezone

    from cmo.safety import models as m

    now = timezone.now()
    common = {"event_type": "fall", "category": "incident", "harm": "mild", "description": "x"}
    m.Event.objects.create(reported_at=now, occurred_at=now, **common)
    late = m.Event.objects.create(
        reported_at=now - timedelta(days=10),
        occurred_at=now - timedelta(days=10),
        status=m.Status.TRIAGED,
        classified_at=now - timedelta(days=9),
        team_due=now - timedelta(days=6),
        analysis_due=(now + timedelta(days=30)).date(),
        **common,
    )
    m.Event.objects.create(reported_at=now, occurred_at=now, status=m.Status.CLOSED, **common)
    inv = m.Investigation.objects.create(event=late)
    m.Action.objects.create(
        investigation=inv,
        description="Bed alarms",
        kind="forcing",
        owner="CNO",
        due=(now - timedelta(days=1)).date(),
        measure_kind="safety",
        measure_id="fall",
    )


def test_the_cmo_sees_every_domain_and_attention_first(client_for: Any) -> None:
    from cmo.quality import reads

    _events()
    tiles = _tiles(client_for("cmo"))
    assert {t["domain"] for t in tiles.values()} == {"quality", "staff", "safety"}
    worse = [s for s in reads.signals(current=True) if s.get("direction") == "worse"]
    assert tiles["Outcome signals (worse)"]["value"] == f"{len(worse):,}"
    assert tiles["Open safety events"]["value"] == "2" and tiles["Open safety events"]["attention"]
    assert tiles["Serious-event clocks overdue"]["value"] == "1"
    assert tiles["Corrective actions open"]["attention"]
    assert not tiles["Expired credentials"]["attention"]  # no credential files in this database
    # Within each domain, tiles that need attention come first.
    for section in _sections(client_for("cmo")):
        flags = [t.attention for t in section["tiles"]]
        assert flags == sorted(flags, reverse=True)


def test_roles_see_only_their_numbers(client_for: Any) -> None:
    from cmo.quality import reads

    _events()
    board = _tiles(client_for("board_member"))
    assert set(board) == {"Outcome signals (worse)"}  # no queue, no staff office
    shown = [
        s
        for s in reads.signals(current=True)
        if s.get("direction") == "worse" and s["level"] != "practitioner"
    ]
    assert board["Outcome signals (worse)"]["value"] == f"{len(shown):,}"
    # A clinician who reported nothing has only the quality tile; compliance has none.
    assert set(_tiles(client_for("clinician"))) == {"Outcome signals (worse)"}
    page = client_for("compliance").get("/overview/").content.decode()
    assert "no numbers to show here" in page
    assert client_for(None).get("/overview/").status_code == 302


def test_a_reporter_sees_their_own_reports(client_for: Any, role_users: dict[str, Any]) -> None:
    from django.utils import timezone

    from cmo.safety import models as m

    now = timezone.now()
    m.Event.objects.create(
        reported_at=now,
        occurred_at=now,
        event_type="fall",
        category="incident",
        harm="none",
        description="x",
        reporter=role_users["clinician"],
    )
    tiles = _tiles(client_for("clinician"))
    assert tiles["My safety reports"]["value"] == "1 open"
