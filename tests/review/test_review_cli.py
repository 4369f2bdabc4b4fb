"""``cmo review oppe | fppe | intake`` on the demo build: JSON for machines, one-line errors."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _run(args: list[str]) -> None:
    from cmo.cli import run

    with pytest.raises(SystemExit) as done:
        run(args)
    assert done.value.code in (0, None), args


def test_intake_then_fppe_then_oppe(
    people: Any, role_users: Any, warehouse_on: Any, capsys: Any
) -> None:
    """Given the demo build, when the intake runs, then ``cmo review fppe --status proposed``
    lists every proposal with practitioner_id, npi, trigger (kind and measure), status and
    opened; ``cmo review oppe`` builds the cycle's profiles."""
    from cmo.directory.models import Membership, Practitioner
    from cmo.review import services
    from cmo.review.models import Fppe, OppeProfile

    p = Practitioner.objects.create(code="pr00070", name="Dr Long", npi="1325853830")
    Membership.objects.create(practitioner=p, department=people["car"])
    _run(["review", "intake", "--format", "json"])
    made = json.loads(capsys.readouterr().out)
    assert made["signal_proposals"] == Fppe.objects.filter(trigger="outcome_signal").count()
    profile = OppeProfile.objects.create(cycle="2024H2", practitioner=p, due=date(2025, 3, 2))
    services.decide_oppe(profile, role_users["cmo"], "fppe", "Length of stay above peers.")
    _run(["review", "fppe", "--status", "proposed", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == Fppe.objects.filter(status="proposed").count()
    row = next(r for r in rows if r["practitioner_id"] == "pr00070")
    assert row["npi"] == "1325853830" and row["status"] == "proposed" and row["opened"] is None
    assert row["trigger"]["kind"] in ("outcome_signal", "oppe")
    _run(["review", "oppe", "--cycle", "2024h2", "--format", "json"])
    profiles = json.loads(capsys.readouterr().out)
    assert {r["practitioner_id"] for r in profiles} >= {"pr00070", "P-HEART"}
    assert all(r["cycle"] == "2024H2" and r["indicators"] for r in profiles)
    assert next(r for r in profiles if r["practitioner_id"] == "pr00070")["decision"] == "fppe"
    _run(["review", "oppe", "--cycle", "2024H2"])
    assert "OPPE 2024H2:" in capsys.readouterr().out


def test_a_bad_cycle_is_one_line(capsys: Any) -> None:
    from cmo.cli import run

    with pytest.raises(SystemExit) as failed:
        run(["review", "oppe", "--cycle", "2024Q1"])
    assert failed.value.code != 0
    assert "cmo: error: '2024Q1' is not a cycle" in capsys.readouterr().err


def test_mortality_review_and_random_sample_of_a_month(warehouse_on: Any, capsys: Any) -> None:
    """Every in-hospital death of the month becomes a case; the random sample is reproducible
    (the same seed draws the same stays, which are not drawn twice)."""
    from datetime import date

    from cmo.review.models import PeerCase
    from cmo.review.warehouse import deaths

    expected = len({r["stay_id"] for r in deaths(date(2024, 10, 1), date(2024, 11, 1))})
    args = ["review", "intake", "--deaths", "2024-10", "--random", "3", "--seed", "5"]
    _run([*args, "--format", "json"])
    made = json.loads(capsys.readouterr().out)
    assert made["mortality_cases"] == expected and made["random_cases"] == 3
    sampled = set(PeerCase.objects.filter(source="random").values_list("stay_id", flat=True))
    assert len(sampled) == 3
    _run([*args, "--format", "json"])
    capsys.readouterr()
    assert (
        set(PeerCase.objects.filter(source="random").values_list("stay_id", flat=True)) == sampled
    )
    from cmo.cli import run

    with pytest.raises(SystemExit) as failed:
        run(["review", "intake", "--random", "2"])
    assert failed.value.code != 0 and "--deaths YYYY-MM" in capsys.readouterr().err
