"""Case volumes beside privileges: the office's code lists, counted in the warehouse."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings

from cmo.errors import CmoError
from cmo.staff import rules
from cmo.staff.models import PrivilegeCode, PrivilegeGrant


@dataclass(frozen=True)
class Volumes:
    """Cases per grant (None: the privilege has no code list) and the window counted."""

    cases: dict[int, int | None]
    start: date
    end: date


def volumes(
    grants: Iterable[PrivilegeGrant], today: date, warehouse: Path | None = None
) -> Volumes | None:
    """Cases of each grant in the 24 months up to the warehouse's last data day (at most
    today): the privileges' minimum-case criterion looks back 24 months. None when the
    warehouse cannot be read."""
    from cmo.measures.volume import case_volume, data_end
    from cmo.warehouse import connect

    grants = list(grants)
    path = Path(warehouse or settings.WAREHOUSE)
    if not path.exists():
        return None
    codes = PrivilegeCode.objects.filter(privilege__in={g.privilege_id for g in grants})
    rows = [
        {"privilege": c.privilege_id, "source": c.source, "system": c.system, "code": c.code}
        for c in codes
    ]
    coded = {c.privilege_id for c in codes}
    try:
        wh = connect(path, read_only=True)
    except CmoError:
        return None
    try:
        end = min(data_end(wh) or today, today)
        start = rules.add_months(end, -24)
        counts = case_volume(wh, rows, start, end + timedelta(days=1))
    finally:
        wh.close()
    cases = {
        g.pk: counts.get((g.file.practitioner.code, str(g.privilege_id)), 0)
        if g.privilege_id in coded
        else None
        for g in grants
    }
    return Volumes(cases, start, end)
