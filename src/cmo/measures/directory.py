"""The directory as the warehouse sees it: sites, departments, units, practitioners and
practitioner-department memberships, as plain rows for the web's directory sync.

Definitions follow the core tables (``cmo.measures.core``, docs/measures/core-tables.md), so the
directory names exactly the sites, departments and units the measures report on:

- sites, departments, units: the ``site_id``, ``department_id`` and ward-level ``unit_id`` of the
  built stays (``core__inpatient_stay``, ``core__stay_unit``); names from Organization.name and
  Location.name (a department given only as a serviceType code is named by its code); a unit's
  site is the root of its Location.managingOrganization, else the site of its stays;
- practitioners: every Practitioner, with the NPI (identifier system
  ``http://hl7.org/fhir/sid/us-npi``), names, birth date, specialty (the first
  PractitionerRole.specialty, else the first qualification) and ``active``;
- memberships: a practitioner's PractitionerRoles whose organization is a department (period
  start and end as given); a practitioner without such a role gets one membership per department
  of the stays they attended (participant type ATND, as in ``core``), from the first admission
  to the last discharge there, the department with most stays marked primary.

Nothing here imports Django: the rows are dicts of str / date / bool / None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from cmo.measures.core import org_roots, source

if TYPE_CHECKING:
    from cmo.warehouse import Warehouse

Row = dict[str, Any]
STAYS = "core__inpatient_stay"
STAY_UNITS = "core__stay_unit"


@dataclass
class DirectoryRows:
    """What the warehouse says the directory holds (codes are warehouse ids)."""

    sites: list[Row] = field(default_factory=list)
    departments: list[Row] = field(default_factory=list)
    units: list[Row] = field(default_factory=list)
    practitioners: list[Row] = field(default_factory=list)
    memberships: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.__dict__.items()}


def _value(v: Any) -> Any:
    """pandas' missing values and timestamps -> None and plain dates."""
    if v is None or (not isinstance(v, str | list) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def _rows(frame: pd.DataFrame) -> list[Row]:
    return [{str(k): _value(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _stays_by_place(wh: Warehouse) -> pd.DataFrame:
    """(site_id, department_id, unit_id) combinations of the stays, with stay counts."""
    stays = wh.table(STAYS)
    return (
        stays.group_by(["site_id", "department_id", "unit_id"])
        .aggregate(n=stays.count())
        .to_pandas()
    )


def _most_stays(places: pd.DataFrame, key: str) -> dict[str, Any]:
    """``key`` value -> the site of most of its stays (ties: the first site code)."""
    known = places.dropna(subset=[key])
    per_site = known.groupby([key, "site_id"], dropna=False)["n"].sum().reset_index()
    per_site = per_site.sort_values([key, "n", "site_id"], ascending=[True, False, True])
    first = per_site.drop_duplicates(key)
    return dict(zip(first[key], first["site_id"], strict=True))


def _places(
    wh: Warehouse, places: pd.DataFrame, role_orgs: set[str]
) -> tuple[list[Row], list[Row], list[Row]]:
    orgs = source(wh, "fhir__organization").select("id", "name").to_pandas()
    org_name = dict(zip(orgs["id"], orgs["name"], strict=True))
    roots = org_roots(wh)
    root_of = dict(zip(roots["org_id"], roots["root_id"], strict=True))
    # A PractitionerRole's organization below a site is a department even before it has stays.
    extra = [
        {"site_id": root_of[o], "department_id": o, "unit_id": None, "n": 0}
        for o in sorted(role_orgs)
        if root_of.get(o, o) != o
    ]
    places = pd.concat([places, pd.DataFrame(extra, columns=places.columns)], ignore_index=True)
    sites = sorted({s for s in places["site_id"].dropna()})
    site_rows = [{"code": s, "name": org_name.get(s) or s} for s in sites]

    dept_site = _most_stays(places, "department_id")
    dept_rows = [
        {"code": d, "name": org_name.get(d) or d, "site": _value(dept_site.get(d))}
        for d in sorted(dept_site)
    ]

    unit_ids = set(places["unit_id"].dropna())
    if wh.exists(STAY_UNITS):
        unit_ids |= set(wh.table(STAY_UNITS).select("unit_id").distinct().to_pandas()["unit_id"])
    locs = source(wh, "fhir__location").to_pandas()
    loc_name = dict(zip(locs["id"], locs["name"], strict=True))
    managed = {
        loc: root_of.get(org)
        for loc, org in zip(locs["id"], locs["managing_organization_id"], strict=True)
        if org
    }
    by_stays = _most_stays(places, "unit_id")
    unit_rows = [
        {
            "code": u,
            "name": loc_name.get(u) or u,
            "site": managed.get(u) if managed.get(u) in set(sites) else _value(by_stays.get(u)),
        }
        for u in sorted(unit_ids)
    ]
    return site_rows, dept_rows, unit_rows


def _practitioners(wh: Warehouse, roles: pd.DataFrame) -> list[Row]:
    prac = source(wh, "fhir__practitioner").to_pandas()
    specialty = roles.dropna(subset=["specialty_display"]).drop_duplicates("practitioner_id")
    spec = dict(zip(specialty["practitioner_id"], specialty["specialty_display"], strict=True))
    out = []
    for r in prac.sort_values("id").itertuples():
        family, given = _value(r.family) or "", _value(r.given) or ""
        out.append(
            {
                "code": r.id,
                "npi": _value(r.npi),
                "family_name": family,
                "given_name": given,
                "name": " ".join(p for p in (given, family) if p) or r.id,
                "birth_date": _value(r.birth_date_date),
                "specialty": spec.get(r.id) or _value(r.qualification_display) or "",
                # FHIR: a Practitioner without ``active`` is taken as active.
                "active": _value(r.active) is not False,
            }
        )
    return out


def _memberships(wh: Warehouse, roles: pd.DataFrame, departments: set[str]) -> list[Row]:
    """Memberships from PractitionerRole; stay-derived ones for practitioners without a role."""
    roles = roles[roles["organization_id"].isin(departments)].sort_values(["practitioner_id", "id"])
    rows = [
        {
            "practitioner": r.practitioner_id,
            "department": r.organization_id,
            "start": _value(r.period_start_date),
            "end": _value(r.period_end_date),
            "primary": i == 0,
            "last_seen": None,
        }
        for _, group in roles.groupby("practitioner_id", sort=True)
        for i, r in enumerate(group.itertuples())
    ]
    with_role = set(roles["practitioner_id"])
    stays = wh.table(STAYS)
    seen = stays.filter(stays.attending_id.notnull() & stays.department_id.notnull())
    attended = (
        seen.group_by(["attending_id", "department_id"])
        .aggregate(first=seen.admit_date.min(), last=seen.discharge_date.max(), n=seen.count())
        .to_pandas()
    )
    attended = attended[~attended["attending_id"].isin(with_role)]
    attended = attended.sort_values(["attending_id", "n", "department_id"], ascending=[1, 0, 1])
    for _, group in attended.groupby("attending_id", sort=True):
        for i, r in enumerate(group.itertuples()):
            rows.append(
                {
                    "practitioner": r.attending_id,
                    "department": r.department_id,
                    "start": _value(r.first),
                    "end": None,
                    "primary": i == 0,
                    "last_seen": _value(r.last),
                }
            )
    return rows


def read(wh: Warehouse) -> DirectoryRows:
    """The directory rows of a built warehouse (empty before the first ``cmo measures run``)."""
    if not wh.exists(STAYS):
        return DirectoryRows()
    roles = source(wh, "fhir__practitioner_role").to_pandas()
    roles = roles[roles["active"].fillna(True).astype(bool) & roles["practitioner_id"].notna()]
    role_orgs = set(roles["organization_id"].dropna())
    sites, departments, units = _places(wh, _stays_by_place(wh), role_orgs)
    practitioners = _practitioners(wh, roles)
    known = {p["code"] for p in practitioners}
    memberships = [
        m
        for m in _memberships(wh, roles, {d["code"] for d in departments})
        if m["practitioner"] in known
    ]
    return DirectoryRows(sites, departments, units, practitioners, memberships)
