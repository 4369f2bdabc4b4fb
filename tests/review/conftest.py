"""Fixtures for the review tests: Django on a temporary data dir (as tests/web sets it up), the
demo build of tests/demo_warehouse.py as the warehouse (built once per session, only by the
tests that ask for it), directory rows made here, users for every role."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
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
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import cmo.web  # noqa: E402

cmo.web.setup()

from django.conf import settings as _settings  # noqa: E402

_settings.WAREHOUSE = Path(os.environ["CMO_WAREHOUSE"])

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
    "peer_review_committee",
]
CHAIR_DEPARTMENTS = ["D-CAR"]


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(scope="session")
def demo_build() -> Path:
    """The demo build (tests/demo_warehouse.py), shared with tests/web in one process."""
    from demo_warehouse import build_once

    path = Path(os.environ["CMO_WAREHOUSE"])
    return build_once(path)


@pytest.fixture
def warehouse_on(demo_build: Path, settings: Any) -> Path:
    from cmo.web import warehouse

    settings.WAREHOUSE = demo_build
    warehouse.clear_cache()
    return demo_build


@pytest.fixture
def role_users(db: Any) -> dict[str, Any]:
    """One user per role (``r_<role>``); the chair holds department D-CAR only."""
    from role_users import users_for_roles

    return users_for_roles(ROLES, "r", CHAIR_DEPARTMENTS)


@pytest.fixture
def client_for(client: Any, role_users: dict[str, Any]) -> Iterator[Any]:
    from role_users import login_as

    yield login_as(client, role_users)


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    """Cardiology (D-CAR: Dr Heart, Dr Valve) and surgery (D-SUR: Dr Knife), each with a
    membership; a credential file with one granted privilege for Dr Heart."""
    from cmo.directory.models import Department, Membership, Practitioner, Site

    site = Site.objects.create(code="S1", name="North")
    # The chair's scope may have made a placeholder D-CAR already (the directory's UserScope).
    car, sur = (
        Department.objects.update_or_create(code=code, defaults={"name": name, "site": site})[0]
        for code, name in (("D-CAR", "Cardiology"), ("D-SUR", "Surgery"))
    )
    out: dict[str, Any] = {"site": site, "car": car, "sur": sur}
    for key, code, family, dept in (
        ("heart", "P-HEART", "Heart", car),
        ("valve", "P-VALVE", "Valve", car),
        ("knife", "P-KNIFE", "Knife", sur),
    ):
        p = Practitioner.objects.create(
            code=code, name=f"Dr {family}", family_name=family, given_name="Ann"
        )
        Membership.objects.create(practitioner=p, department=dept)
        out[key] = p
    return out


@pytest.fixture
def grant(people: dict[str, Any]) -> Any:
    """A privilege granted to Dr Heart today: new to them, so it needs an FPPE."""
    from django.utils import timezone

    from cmo.staff.models import CredentialFile, GrantStatus, PrivilegeDefinition, PrivilegeGrant

    f = CredentialFile.objects.create(practitioner=people["heart"])
    d = PrivilegeDefinition.objects.create(department=people["car"], name="TAVR", kind="special")
    return PrivilegeGrant.objects.create(
        file=f, privilege=d, status=GrantStatus.GRANTED, granted_on=timezone.localdate()
    )
