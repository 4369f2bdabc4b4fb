"""Case volumes beside privileges: the office's code lists, counted in the warehouse."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from django.conf import settings

from cmo.errors import CmoError
from cmo.staff import rules
from cmo.staff.models import PrivilegeCode, PrivilegeGrant


def window(today: date) -> tuple[date, date]:
    """The last 24 months (the privileges' minimum-case criterion looks back this far)."""
    return rules.add_months(today, -24), today


def volumes(
    grants: Iterable[PrivilegeGrant], today: date, warehouse: Path | None = None
) -> dict[int, int] | None:
    """``{grant id: cases in the window}``; None when the warehouse cannot be read."""
    from cmo.measures.volume import case_volume
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
    start, end = window(today)
    try:
        wh = connect(path, read_only=True)
    except CmoError:
        return None
    try:
        counts = case_volume(wh, rows, start, end)
    finally:
        wh.close()
    return {g.pk: counts.get((g.file.practitioner.code, str(g.privilege_id)), 0) for g in grants}
