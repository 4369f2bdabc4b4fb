"""The office's demo on a real (small) demo warehouse: generate -> ingest -> measures -> seed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo_warehouse import build_demo_warehouse  # tests/demo_warehouse.py

    return build_demo_warehouse(tmp_path_factory.mktemp("staff-demo") / "wh.duckdb", patients=600)


def test_demo_seed(demo_warehouse: Path, db: Any, settings: Any) -> None:
    from cmo.directory.models import Practitioner
    from cmo.staff import services
    from cmo.staff.demo import seed
    from cmo.staff.models import (
        Application,
        AppState,
        CredentialFile,
        GrantStatus,
        ScreeningMatch,
    )
    from cmo.staff.volumes import volumes

    today = timezone.localdate()
    counts = seed(demo_warehouse, today=today, echo=None)
    warehouse_people = Practitioner.objects.filter(source="warehouse")
    assert warehouse_people.count() >= 60
    assert CredentialFile.objects.filter(practitioner__in=warehouse_people).count() == (
        warehouse_people.count()
    )
    items = services.expirables(today, 60)
    expired = [i for i in items if i.window == "expired"]
    assert [i.kind for i in expired] == ["licence"]
    assert sum(i.window in ("30", "60") for i in items) >= 3
    held = CredentialFile.objects.get(pk=expired[0].file_id).privileges.all()
    assert held and all(g.status == GrantStatus.HOLD for g in held)
    bad = [f for f in CredentialFile.objects.all() if services.file_flags(f, today)["bad_deas"]]
    assert len(bad) == 1
    assert {a.state for a in Application.objects.all()} == set(AppState.values)
    matches = {(m.practitioner.code, m.match_on, m.active) for m in ScreeningMatch.objects.all()}
    assert matches == {("manual-1", "npi", True), ("manual-2", "name", True),
                       ("manual-3", "npi", False)}  # fmt: skip
    # Volumes from the warehouse: someone has cases, and TAVR (no such cases) is flagged.
    settings.WAREHOUSE = demo_warehouse
    from cmo.staff.models import PrivilegeGrant

    grants = list(PrivilegeGrant.objects.select_related("file__practitioner", "privilege"))
    vol = volumes(grants, today)
    assert vol is not None and vol.end < today - timedelta(days=300)  # the demo's fixed window
    cases = {g.privilege.name: 0 for g in grants}
    for g in grants:
        cases[g.privilege.name] += vol.cases[g.pk] or 0
    assert cases["Total joint arthroplasty"] > 0 and cases["Core hospital medicine"] > 0
    assert cases["Transcatheter aortic valve replacement"] == 0
    assert counts["screening_hits"] == 3
    assert seed(demo_warehouse, echo=None) == {}  # a second run changes nothing
