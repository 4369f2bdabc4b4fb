"""The directory sync: warehouse rows -> directory tables, and app tables -> warehouse.

Unit rules on hand-made rows (created, renamed, deactivated, matched by NPI, memberships ended),
then end to end on a real demo build: ``cmo.sync.run`` fills the directory in the app database
(child process) and writes the ``app__directory_*`` tables into the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cmo.measures.directory import DirectoryRows


def rows(**changes: Any) -> DirectoryRows:
    base = DirectoryRows(
        sites=[{"code": "S1", "name": "North"}],
        departments=[
            {"code": "D-CAR", "name": "Cardiology", "site": "S1"},
            {"code": "D-SUR", "name": "Surgery", "site": "S1"},
        ],
        units=[{"code": "U-ICU", "name": "ICU", "site": "S1"}],
        practitioners=[
            _prac("P014", "1000000014", "Ada", "Lovelace"),
            _prac("P007", "1000000007", "Joseph", "Lister"),
        ],
        memberships=[
            _member("P014", "D-CAR", date(2024, 1, 3)),
            _member("P007", "D-SUR", date(2024, 2, 1)),
        ],
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def _prac(code: str, npi: str, given: str, family: str) -> dict[str, Any]:
    return {
        "code": code,
        "npi": npi,
        "family_name": family,
        "given_name": given,
        "name": f"{given} {family}",
        "birth_date": None,
        "specialty": "",
        "active": True,
    }


def _member(prac: str, dept: str, start: date) -> dict[str, Any]:
    return {
        "practitioner": prac,
        "department": dept,
        "start": start,
        "end": None,
        "primary": True,
        "last_seen": date(2024, 6, 30),
    }


@pytest.mark.django_db
def test_sync_creates_updates_and_deactivates_never_deletes() -> None:
    from cmo.directory.models import Department, Membership, Practitioner
    from cmo.directory.sync import apply

    first = apply(rows())
    assert first.created["directory__practitioner"] == 2
    assert Department.objects.get(code="D-CAR").site.code == "S1"

    renamed = rows()
    renamed.practitioners[0] = _prac("P014", "1000000014", "Ada", "King")
    renamed.practitioners.pop(1)  # P007 left the warehouse
    renamed.memberships.pop(1)
    second = apply(renamed)
    assert second.updated["directory__practitioner"] == 1
    assert second.deactivated["directory__practitioner"] == 1
    assert Practitioner.objects.get(code="P014").name == "Ada King"
    gone = Practitioner.objects.get(code="P007")  # kept, marked inactive
    assert not gone.active
    # Its membership is ended at the last stay seen there, not deleted.
    assert Membership.objects.get(practitioner=gone).end == date(2024, 6, 30)

    third = apply(rows())  # back in the warehouse: active again, nothing new created
    back = Practitioner.objects.get(code="P007")
    assert back.active and Membership.objects.get(practitioner=back).end is None
    assert sum(third.created.values()) == 0
    assert Practitioner.objects.count() == 2


@pytest.mark.django_db
def test_hand_entered_practitioner_is_matched_by_npi_and_never_deactivated() -> None:
    from cmo.directory.models import Practitioner, Source
    from cmo.directory.sync import apply

    applicant = Practitioner.objects.create(
        code="manual-1", name="A. Lovelace", npi="1000000014", source=Source.MANUAL
    )
    other = Practitioner.objects.create(code="manual-2", name="Not yet seen", source="manual")
    apply(rows())
    applicant.refresh_from_db()
    assert (applicant.code, applicant.source, applicant.name) == (
        "P014",
        "warehouse",
        "Ada Lovelace",
    )
    assert applicant.memberships.get().department.code == "D-CAR"
    apply(rows(practitioners=[], memberships=[]))
    other.refresh_from_db()
    assert other.active  # hand-entered: the warehouse not having it means nothing
    assert not Practitioner.objects.get(code="P014").active


@pytest.mark.django_db
def test_chair_scope_comes_from_directory_departments() -> None:
    from django.contrib.auth.models import Group, User

    from cmo.directory.models import Department, Practitioner
    from cmo.directory.sync import apply
    from cmo.web import add_user
    from cmo.web.scope import scope_of

    apply(rows())
    chair, _, _ = add_user("chair1", "department_chair", password="x" * 16, departments=["D-CAR"])
    scope = scope_of(User.objects.get(pk=chair.pk))
    assert scope.departments == ["D-CAR"] and scope.limited
    assert [p.code for p in Practitioner.objects.restrict(scope)] == ["P014"]
    assert [d.code for d in Department.objects.restrict(scope)] == ["D-CAR"]
    cmo = User.objects.create(username="cmo1")
    cmo.groups.set([Group.objects.get(name="cmo")])
    assert scope_of(cmo).departments is None
    assert Practitioner.objects.restrict(scope_of(cmo)).count() == 2
    # A code the directory has not seen yet becomes a placeholder the next sync fills in.
    add_user("chair2", "department_chair", password="y" * 16, departments=["D-NEW"])
    placeholder = Department.objects.get(code="D-NEW")
    assert placeholder.source == "manual" and placeholder.name == "D-NEW"


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real demo build (300 patients): fhir__*, core__* and quality__* tables."""
    from cmo.demo.generate import generate
    from cmo.fhir.ingest import ingest
    from cmo.measures.build import run
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("directory-demo")
    generate(root / "fhir", patients=300, seed=7, start=date(2024, 1, 1), months=8, progress=False)
    wh = connect(root / "warehouse.duckdb")
    ingest([root / "fhir"], wh, progress=False)
    run(wh, progress=False)
    yield wh
    wh.close()


def test_warehouse_rows_follow_the_core_tables(demo_warehouse: Any) -> None:
    from cmo.measures.directory import read

    got = read(demo_warehouse)
    stays = demo_warehouse.table("core__inpatient_stay").to_pandas()
    assert {d["code"] for d in got.departments} >= set(stays["department_id"].dropna())
    assert {s["code"] for s in got.sites} == set(stays["site_id"].dropna())
    npis = {p["npi"] for p in got.practitioners}
    ids = demo_warehouse.table("fhir__practitioner_identifier").to_pandas()
    assert npis == set(ids[ids["system"] == "http://hl7.org/fhir/sid/us-npi"]["value"])
    known = {p["code"] for p in got.practitioners}
    assert all(m["practitioner"] in known for m in got.memberships)
    assert set(stays["attending_id"].dropna()) <= {m["practitioner"] for m in got.memberships}


def test_sync_fills_the_directory_and_exports_app_tables(demo_warehouse: Any) -> None:
    """End to end: the CLI's sync (child process on the app database of CMO_DATA_DIR) and the
    app__ tables it writes into the warehouse."""
    from cmo import sync
    from cmo.measures.directory import read

    expected = read(demo_warehouse)
    lines: list[str] = []
    result = sync.run(demo_warehouse, echo=lines.append)
    assert result is not None
    assert any(line.startswith("directory sync: ") for line in lines), lines
    prac = demo_warehouse.table("app__directory_practitioner").to_pandas()
    assert set(prac["code"]) >= {p["code"] for p in expected.practitioners}
    assert (
        prac.set_index("code").loc[expected.practitioners[0]["code"], "npi"]
        == (expected.practitioners[0]["npi"])
    )
    members = demo_warehouse.table("app__directory_membership").to_pandas()
    depts = demo_warehouse.table("app__directory_department").to_pandas().set_index("id")
    by_id = prac.set_index("id")["code"]
    pairs = {
        (by_id[r.practitioner_id], depts.loc[r.department_id, "code"])
        for r in members.itertuples()
        if r.source == "warehouse"
    }
    assert pairs >= {(m["practitioner"], m["department"]) for m in expected.memberships}
    assert result.tables["app__directory_membership"] == len(members)
