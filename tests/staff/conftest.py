"""Fixtures for the staff tests: Django on a temporary data dir (as tests/web sets it up),
directory rows made here (the warehouse sync is not needed), users for every role."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

_KEY = f"CMO_TEST_DATA_DIR_{os.getpid()}"
_DATA = Path(os.environ.get(_KEY) or tempfile.mkdtemp(prefix="cmo-web-"))
os.environ[_KEY] = str(_DATA)
os.environ["CMO_DATA_DIR"] = str(_DATA)
os.environ["CMO_STATIC_MANIFEST"] = "0"
os.environ["CMO_WAREHOUSE"] = os.environ.get("CMO_TEST_WAREHOUSE") or str(
    _DATA / "warehouse.duckdb"
)
os.environ["DJANGO_SETTINGS_MODULE"] = "cmo.web.settings"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the browser test's ORM calls

import cmo.web  # noqa: E402
from staff.leie import leie_row, write_leie  # noqa: E402

cmo.web.setup()

ROLES = [
    "cmo",
    "quality_analyst",
    "medical_staff_office",
    "department_chair",
    "safety_officer",
    "clinician",
    "board_member",
    "compliance",
    "credentials_committee",
]
CHAIR_DEPARTMENTS = ["D-CAR"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def role_users(db: Any) -> dict[str, Any]:
    """One user per role (``s_<role>``); the chair holds department D-CAR."""
    from role_users import users_for_roles

    return users_for_roles(ROLES, "s", CHAIR_DEPARTMENTS)


@pytest.fixture
def client_for(client: Any, role_users: dict[str, Any]) -> Iterator[Any]:
    from role_users import login_as

    yield login_as(client, role_users)


@pytest.fixture
def staff(db: Any) -> dict[str, Any]:
    """Two departments, three practitioners with files; Dr Heart in cardiology (D-CAR)."""
    from cmo.directory.models import Department, Membership, Practitioner
    from cmo.staff.models import CredentialFile

    # update_or_create: a chair's scope may already have made a placeholder row for D-CAR.
    car = Department.objects.update_or_create(code="D-CAR", defaults={"name": "Cardiology"})[0]
    sur = Department.objects.update_or_create(code="D-SUR", defaults={"name": "Surgery"})[0]
    people = {}
    for code, family, given, npi, dept, born in (
        ("pr1", "Heart", "Anna", "1234567893", car, date(1970, 3, 1)),
        ("pr2", "Knife", "Bruno", "1558598797", sur, date(1965, 7, 9)),
        ("pr3", "Stent", "Carla", "1245319599", car, None),
    ):
        p = Practitioner.objects.create(
            code=code,
            name=f"Dr {given} {family}",
            family_name=family,
            given_name=given,
            npi=npi,
            birth_date=born,
        )
        Membership.objects.create(practitioner=p, department=dept)
        people[code] = CredentialFile.objects.create(practitioner=p)
    return {"car": car, "sur": sur, **people}


@pytest.fixture
def leie(tmp_path: Path) -> Path:
    """Rows for each kind of match against the ``staff`` fixture's practitioners."""
    return write_leie(
        tmp_path / "UPDATED.csv",
        [
            # NPI hit on Dr Heart (name spelled differently: the NPI decides).
            leie_row(LASTNAME="HART", FIRSTNAME="ANNE", NPI="1234567893", DOB="19700301"),
            # Name + DOB on Dr Knife, no NPI in the row.
            leie_row(LASTNAME="KNIFE", FIRSTNAME="BRUNO", DOB="19650709"),
            # Name only (misspelled) on Dr Stent, whose file has no date of birth.
            leie_row(LASTNAME="STENNT", FIRSTNAME="CARLA", DOB="19800101"),
            # Same name as Dr Knife but another birth date: another person, no match.
            leie_row(LASTNAME="KNIFE", FIRSTNAME="BRUNO", DOB="19900101"),
            # Reinstated in the past: not an active exclusion.
            leie_row(LASTNAME="HEART", FIRSTNAME="ANNA", DOB="19700301", REINDATE="20240101"),
            # A firm: no individual to match by name.
            leie_row(BUSNAME="STENT SUPPLY LLC", GENERAL="DME"),
        ],
    )
