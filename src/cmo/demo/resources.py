"""FHIR R4 building blocks shared by the generator: codings, references and structure resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cmo.demo import casemix as cx
from cmo.demo.structure import Structure

Resource = dict[str, Any]


def ref(rtype: str, rid: str) -> dict[str, str]:
    return {"reference": f"{rtype}/{rid}"}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> Resource:
    out: Resource = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def meta(last_updated: str) -> dict[str, str]:
    return {"lastUpdated": last_updated}


def structure_resources(st: Structure, last_updated: str) -> Iterator[tuple[str, Resource]]:
    """Organizations (hospitals, departments, payers), Locations, Practitioners and roles."""
    m = meta(last_updated)
    for site in st.sites:
        yield (
            "Organization",
            {
                "resourceType": "Organization",
                "id": site.id,
                "meta": m,
                "active": True,
                "type": [cc(cx.ORG_TYPE, "prov", "Healthcare Provider")],
                "name": site.name,
            },
        )
        for dept in site.departments:
            name, _, _ = cx.DEPARTMENTS[dept]
            yield (
                "Organization",
                {
                    "resourceType": "Organization",
                    "id": st.department_id(site.index, dept),
                    "meta": m,
                    "active": True,
                    "type": [cc(cx.ORG_TYPE, "dept", "Hospital Department")],
                    "name": f"{site.name} - {name}",
                    "partOf": ref("Organization", site.id),
                },
            )
    for key, (_, _, name, _) in cx.PAYERS.items():
        if key == "self":
            continue
        yield (
            "Organization",
            {
                "resourceType": "Organization",
                "id": f"org-payer-{key}",
                "meta": m,
                "active": True,
                "type": [cc(cx.ORG_TYPE, "pay", "Payer")],
                "name": name,
            },
        )
    for site in st.sites:
        yield (
            "Location",
            {
                "resourceType": "Location",
                "id": site.location_id,
                "meta": m,
                "status": "active",
                "name": site.name,
                "mode": "instance",
                "type": [cc(cx.ROLE_CODE, "HOSP", "Hospital")],
                "physicalType": cc(cx.PHYSICAL_TYPE, "si", "Site"),
                "managingOrganization": ref("Organization", site.id),
            },
        )
        for unit in site.units.values():
            yield (
                "Location",
                {
                    "resourceType": "Location",
                    "id": unit.id,
                    "meta": m,
                    "status": "active",
                    "name": unit.name,
                    "mode": "instance",
                    "type": [cc(cx.ROLE_CODE, unit.role)],
                    "physicalType": cc(cx.PHYSICAL_TYPE, "wa", "Ward"),
                    "managingOrganization": ref("Organization", site.id),
                    "partOf": ref("Location", site.location_id),
                },
            )
            for r, room in enumerate(unit.rooms, start=1):
                yield (
                    "Location",
                    {
                        "resourceType": "Location",
                        "id": room,
                        "meta": m,
                        "status": "active",
                        "name": f"{unit.name} room {r:02d}",
                        "mode": "instance",
                        "physicalType": cc(cx.PHYSICAL_TYPE, "ro", "Room"),
                        "managingOrganization": ref("Organization", site.id),
                        "partOf": ref("Location", unit.id),
                    },
                )
    for p in st.practitioners:
        yield (
            "Practitioner",
            {
                "resourceType": "Practitioner",
                "id": p.id,
                "meta": m,
                "identifier": [{"system": cx.NPI_SYSTEM, "value": p.npi}],
                "active": True,
                "name": [{"family": p.family, "given": [p.given], "prefix": ["Dr."]}],
                "gender": p.gender,
            },
        )
        _, taxonomy, display = cx.DEPARTMENTS[p.department]
        yield (
            "PractitionerRole",
            {
                "resourceType": "PractitionerRole",
                "id": f"{p.id}-role",
                "meta": m,
                "active": True,
                "practitioner": ref("Practitioner", p.id),
                "organization": ref("Organization", st.department_id(p.site, p.department)),
                "code": [cc(cx.PRACTITIONER_ROLE, "doctor", "Doctor")],
                "specialty": [cc(cx.NUCC, taxonomy, display)],
                "location": [ref("Location", st.sites[p.site].location_id)],
            },
        )
