"""The directory sync: warehouse rows (``cmo.measures.directory``) -> directory tables.

Run by ``cmo measures run`` and ``cmo demo`` through ``cmo.sync`` (see there why in a child
process).

Rules: a new code is created; a known code gets its names and links updated; a warehouse row the
warehouse no longer has is marked inactive, never deleted (credential files, reviews and events
still point at it); rows entered by hand (source ``manual``) are never deactivated, and a
hand-entered practitioner whose NPI the warehouse brings becomes that warehouse practitioner.
Everything happens in one transaction, so an interrupted sync leaves the directory as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from cmo.directory.models import Department, Entry, Membership, Practitioner, Site, Source, Unit

if TYPE_CHECKING:
    from cmo.measures.directory import DirectoryRows

Row = dict[str, Any]


@dataclass
class Counts:
    """What one sync did, per table: created, updated, deactivated (or ended) rows."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deactivated: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, table: str, n: int) -> None:
        bucket = getattr(self, kind)
        bucket[table] = bucket.get(table, 0) + n

    def __str__(self) -> str:
        parts = []
        for kind in ("created", "updated", "deactivated"):
            n = sum(getattr(self, kind).values())
            parts.append(f"{n} {kind}")
        return ", ".join(parts)


def _upsert(
    model: type[Entry],
    rows: Iterable[Row],
    counts: Counts,
    links: dict[str, dict[str, Any]] | None = None,
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create or update ``model`` rows by ``code``; deactivate warehouse rows not in ``rows``.

    ``links``: field -> {code: object} to turn a row's code value into a foreign key.
    ``existing``: code -> object, when the caller has matched rows another way (NPI).
    Returns code -> object for every row given.
    """
    now = timezone.now()
    table = model._meta.db_table
    known = existing if existing is not None else model.objects.in_bulk(field_name="code")
    seen: dict[str, Any] = {}
    new, changed = [], []
    for row in rows:
        values = dict(row)
        for name, by_code in (links or {}).items():
            values[name] = by_code.get(values[name]) if values.get(name) else None
        values.setdefault("active", True)
        obj = known.get(row["code"])
        if obj is None:
            obj = model(**values, source=Source.WAREHOUSE, last_synced=now)
            new.append(obj)
        else:
            diff = {k: v for k, v in values.items() if getattr(obj, k) != v}
            diff |= {"source": Source.WAREHOUSE} if obj.source != Source.WAREHOUSE else {}
            for k, v in diff.items():
                setattr(obj, k, v)
            obj.last_synced = now
            changed.append((obj, bool(diff)))
        seen[row["code"]] = obj
    model.objects.bulk_create(new)
    fields = sorted({k for r in rows for k in r} | {"active", "source", "last_synced"})
    model.objects.bulk_update([o for o, _ in changed], fields, batch_size=500)
    stale = [
        o.pk
        for code, o in known.items()
        if code not in seen and o.source == Source.WAREHOUSE and o.active
    ]
    for start in range(0, len(stale), 500):
        model.objects.filter(pk__in=stale[start : start + 500]).update(
            active=False, last_synced=now
        )
    counts.add("created", table, len(new))
    counts.add("updated", table, sum(1 for _, d in changed if d))
    counts.add("deactivated", table, len(stale))
    synced: dict[str, Any] = model.objects.in_bulk(list(seen), field_name="code")
    return synced


def _practitioners(rows: list[Row], counts: Counts) -> dict[str, Practitioner]:
    """Match by code, else a hand-entered practitioner by NPI; then upsert."""
    known: dict[str, Any] = Practitioner.objects.in_bulk(field_name="code")
    manual = {p.npi: p for p in Practitioner.objects.filter(source=Source.MANUAL).exclude(npi=None)}
    taken = {p.npi: p.code for p in known.values() if p.npi}
    for row in rows:
        npi = row.get("npi")
        if row["code"] not in known and npi in manual:
            # The applicant entered by hand is this warehouse practitioner from now on.
            person = manual.pop(npi)
            known.pop(person.code, None)
            person.code = row["code"]
            known[row["code"]] = person
        elif npi and taken.get(npi, row["code"]) != row["code"]:
            # Another row already holds this NPI (unique): keep it there, do not fail the sync.
            row["npi"] = None
    return _upsert(Practitioner, rows, counts, existing=known)


def _memberships(
    rows: list[Row],
    practitioners: dict[str, Practitioner],
    departments: dict[str, Department],
    counts: Counts,
) -> None:
    """Warehouse memberships keyed by (practitioner, department); a vanished one is ended."""
    current = {
        (m.practitioner_id, m.department_id): m
        for m in Membership.objects.filter(source=Source.WAREHOUSE)
    }
    keep = set()
    for row in rows:
        prac, dept = practitioners.get(row["practitioner"]), departments.get(row["department"])
        if prac is None or dept is None:
            continue
        key = (prac.pk, dept.pk)
        keep.add(key)
        values = {k: row[k] for k in ("start", "end", "primary", "last_seen")}
        found = current.get(key)
        if found is None:
            Membership.objects.create(practitioner=prac, department=dept, **values)
            counts.add("created", "directory__membership", 1)
        elif any(getattr(found, k) != v for k, v in values.items()):
            Membership.objects.filter(pk=found.pk).update(**values)
            counts.add("updated", "directory__membership", 1)
    ended = 0
    for key, m in current.items():
        if key not in keep and m.end is None:
            Membership.objects.filter(pk=m.pk).update(end=m.last_seen or date.today())
            ended += 1
    counts.add("deactivated", "directory__membership", ended)


def apply(rows: DirectoryRows) -> Counts:
    """Bring the directory tables in step with ``rows`` (one transaction)."""
    counts = Counts()
    with transaction.atomic():
        sites = _upsert(Site, rows.sites, counts)
        departments = _upsert(Department, rows.departments, counts, links={"site": sites})
        _upsert(Unit, rows.units, counts, links={"site": sites})
        practitioners = _practitioners([dict(r) for r in rows.practitioners], counts)
        _memberships(rows.memberships, practitioners, departments, counts)
    return counts


def apply_payload(payload: dict[str, list[Row]]) -> Counts:
    """``Domain.sync`` of the directory: the rows ``cmo.measures.directory.read`` produced in
    the CLI process (see ``cmo.sync``)."""
    from cmo.measures.directory import DirectoryRows

    return apply(DirectoryRows(**payload))
