"""Exclusion screening: the OIG LEIE layout, matching, runs that fail loudly, reviews."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from cmo.errors import InputError
from cmo.staff import screening
from cmo.staff.models import (
    GrantStatus,
    PrivilegeDefinition,
    PrivilegeGrant,
    Review,
    ScreeningMatch,
    ScreeningRun,
)
from cmo.staff.services import last_clear, review_match, run_screening
from staff.leie import leie_row, write_leie

TODAY = date(2026, 6, 1)


def test_leie_layout_dates_and_reinstatement(leie: Path) -> None:
    source = screening.read_leie(leie, TODAY)
    assert len(source.rows) == 6 and len(source.sha256) == 64
    first, reinstated = source.rows[0], source.rows[4]
    assert first.npi == "1234567893" and first.birth_date == date(1970, 3, 1) and first.active
    assert source.rows[1].npi is None  # 0000000000 = none
    assert not reinstated.active
    assert screening.read_leie(leie, date(2023, 12, 31)).rows[4].active  # before reinstatement


def test_waiver_is_shown(tmp_path: Path) -> None:
    path = write_leie(
        tmp_path / "w.csv",
        [leie_row(LASTNAME="X", FIRSTNAME="Y", WAIVERDATE="20210301", WVRSTATE="TX")],
    )
    assert screening.read_leie(path, TODAY).rows[0].waiver == "waiver 2021-03-01 TX"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "missing column"),
        ("LASTNAME,FIRSTNAME\nA,B\n", "missing column"),
        (",".join(screening.LEIE_COLUMNS) + "\n", "no rows"),
    ],
)
def test_unreadable_or_empty_files_fail(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "UPDATED.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        screening.read_leie(path, TODAY)


def test_a_bad_date_names_its_line(tmp_path: Path) -> None:
    path = write_leie(tmp_path / "u.csv", [leie_row(LASTNAME="A"), leie_row(DOB="1970-03-01")])
    with pytest.raises(InputError, match="line 3"):
        screening.read_leie(path, TODAY)


def test_matching_confirmed_probable_possible(staff: dict[str, Any], leie: Path) -> None:
    run, hits = run_screening(leie, None, by="test", today=TODAY)
    got = {(h.practitioner_id, h.match_on, h.active) for h in hits}
    heart, knife, stent = (staff[k].practitioner_id for k in ("pr1", "pr2", "pr3"))
    assert got == {
        (heart, "npi", True),
        (heart, "name_dob", False),  # the reinstated row: shown, not active
        (knife, "name_dob", True),
        (stent, "name", True),
    }
    stent_hit = next(h for h in hits if h.match_on == "name")
    assert 85 <= stent_hit.score < 100
    assert run.ok and run.leie_rows == 6 and run.practitioners == 3
    reviews = dict(ScreeningMatch.objects.values_list("match_on", "review").filter(active=True))
    assert reviews == {"npi": Review.CONFIRMED, "name_dob": Review.PENDING, "name": Review.PENDING}
    review_mail = [m for m in mail.outbox if "need review" in m.subject]
    assert len(review_mail) == 1 and "Dr Carla Stent: Name only" in review_mail[0].body


def test_json_shape(staff: dict[str, Any], leie: Path) -> None:
    _, hits = run_screening(leie, None, by="test", today=TODAY)
    item = hits[0].as_json()
    assert {"practitioner_id", "npi", "match_on", "active", "score", "row"} <= set(item)
    assert item["match_on"] == "npi" and item["row"]["NPI"] == "1234567893"


def test_confirmed_npi_hit_opens_the_suspension_workflow(staff: dict[str, Any], leie: Path) -> None:
    core = PrivilegeDefinition.objects.create(department=staff["car"], name="Core")
    grant = PrivilegeGrant.objects.create(file=staff["pr1"], privilege=core, status="granted")
    run_screening(leie, None, by="test", today=TODAY)
    grant.refresh_from_db()
    assert grant.status == GrantStatus.HOLD and "OIG LEIE exclusion" in grant.hold_reason


def test_failed_run_is_stored_and_never_clears_anyone(
    staff: dict[str, Any], leie: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError):
        run_screening(empty, None, by="test", today=TODAY)
    failed = ScreeningRun.objects.get()
    assert not failed.ok and "missing column" in failed.error
    assert last_clear(staff["pr2"].practitioner_id) is None
    clean = write_leie(tmp_path / "clean.csv", [leie_row(LASTNAME="NOBODY", FIRSTNAME="X")])
    run, _ = run_screening(clean, None, by="test", today=TODAY)
    assert last_clear(staff["pr2"].practitioner_id) == run


def test_reviewer_clears_a_possible_match_and_the_decision_carries_over(
    staff: dict[str, Any], leie: Path, role_users: Any
) -> None:
    run_screening(leie, None, by="test", today=TODAY)
    possible = ScreeningMatch.objects.get(match_on="name")
    with pytest.raises(InputError):
        review_match(possible, role_users["compliance"], confirm=False, reason="")
    review_match(possible, role_users["compliance"], confirm=False, reason="DOB 1980 differs")
    assert ScreeningMatch.objects.get(pk=possible.pk).review == Review.CLEARED
    run_screening(leie, None, by="test", today=TODAY)  # next month, same row
    again = ScreeningMatch.objects.filter(match_on="name").latest("id")
    assert again.pk != possible.pk and again.review == Review.CLEARED
    assert "DOB 1980 differs" in again.reason


def test_sam_extract(staff: dict[str, Any], leie: Path, tmp_path: Path) -> None:
    sam = tmp_path / "SAM.csv"
    sam.write_text(
        "Classification,Name,Prefix,First,Middle,Last,Suffix,Exclusion Type,"
        "Active Date,Termination Date,NPI\n"
        "Individual,,,Bruno,,Knife,,Ineligible,01/02/2024,Indefinite,\n"
        "Individual,,,Carla,,Stent,,Ineligible,01/02/2020,01/02/2021,\n"
        "Firm,Knife Corp,,,,,,Ineligible,01/02/2024,Indefinite,\n"
    )
    run, hits = run_screening(leie, sam, by="test", today=TODAY)
    sam_hits = {(h.practitioner_id, h.active) for h in hits if h.source == "sam"}
    assert sam_hits == {(staff["pr2"].practitioner_id, True), (staff["pr3"].practitioner_id, False)}
    assert run.sam_rows == 2 and len(run.sam_sha256) == 64


@pytest.mark.django_db(transaction=True)
def test_cli_screen_json_and_loud_failure(
    staff: dict[str, Any], leie: Path, tmp_path: Path, capsys: Any
) -> None:
    from cmo.cli import run

    with pytest.raises(SystemExit) as done:
        run(["staff", "screen", "--leie", str(leie), "--format", "json"])
    assert done.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert {o["match_on"] for o in out} == {"npi", "name_dob", "name"}
    missing = tmp_path / "nope.csv"
    with pytest.raises(SystemExit) as failed:
        run(["staff", "screen", "--leie", str(missing)])
    assert failed.value.code != 0
    assert "cmo: error: cannot read the OIG LEIE" in capsys.readouterr().err
