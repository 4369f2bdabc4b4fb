"""A FHIR test bed: write a handful of FHIR R4 resources, ingest them, build, read exact rows.

Tests describe patients (given), run the real ingest and ``cmo.measures.build.run`` (when) and
assert the long rows of each measure (then). One :class:`TestBed` holds many independent
patients so a module builds once.

Default structure: two hospitals (``org-h1``, ``org-h2``), each with a medicine department
(``org-hN-med``, partOf the hospital), a ward (``loc-hN-ward``, physicalType ``wa``) with a
room and a bed (``loc-hN-bed``); hospital 1 also has an ICU (``loc-h1-icu``, a ward-level unit,
with room ``loc-h1-icu-room``); practitioners ``pr-a`` and ``pr-b``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
NUBC = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DX_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
POA = "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission"
LOC_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def _cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _ts(value: str) -> str:
    """``2024-03-01`` -> ``2024-03-01T10:00:00Z``; full timestamps pass through."""
    return value if "T" in value else f"{value}T10:00:00Z"


def _locations(location: str | list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    if isinstance(location, str):
        return [{"location": {"reference": f"Location/{location}"}}]
    return [
        {
            "location": {"reference": f"Location/{loc}"},
            "period": {"start": _ts(start), "end": _ts(end)},
        }
        for loc, start, end in location
    ]


class TestBed:
    """Collects FHIR resources, then ``build()`` ingests them and runs the measures build."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.resources: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._n = 0
        for h in ("h1", "h2"):
            self.organization(f"org-{h}", f"Hospital {h.upper()}")
            self.organization(f"org-{h}-med", f"Hospital {h.upper()} Medicine", part_of=f"org-{h}")
            self.location(f"loc-{h}-ward", f"{h.upper()} Ward", "wa")
            self.location(f"loc-{h}-room", f"{h.upper()} Room 1", "ro", part_of=f"loc-{h}-ward")
            self.location(f"loc-{h}-bed", f"{h.upper()} Bed 1", "bd", part_of=f"loc-{h}-room")
        self.location("loc-h1-icu", "H1 ICU", "wa")
        self.location("loc-h1-icu-room", "H1 ICU Room 1", "ro", part_of="loc-h1-icu")
        self.practitioner("pr-a", "Alpha", "Ann")
        self.practitioner("pr-b", "Beta", "Bob")

    # -- resources --------------------------------------------------------------------------
    def organization(self, oid: str, name: str, part_of: str | None = None) -> None:
        r: dict[str, Any] = {"resourceType": "Organization", "id": oid, "name": name}
        if part_of:
            r["partOf"] = {"reference": f"Organization/{part_of}"}
        self.resources["Organization"].append(r)

    def location(self, lid: str, name: str, kind: str, part_of: str | None = None) -> None:
        r: dict[str, Any] = {
            "resourceType": "Location",
            "id": lid,
            "name": name,
            "physicalType": _cc(LOC_TYPE, kind),
        }
        if part_of:
            r["partOf"] = {"reference": f"Location/{part_of}"}
        self.resources["Location"].append(r)

    def practitioner(self, pid: str, family: str, given: str) -> None:
        self.resources["Practitioner"].append(
            {
                "resourceType": "Practitioner",
                "id": pid,
                "name": [{"family": family, "given": [given]}],
            }
        )

    def patient(
        self,
        pid: str,
        *,
        birth: str = "1950-01-01",
        gender: str = "female",
        deceased: str | None = None,
    ) -> str:
        r: dict[str, Any] = {
            "resourceType": "Patient",
            "id": pid,
            "gender": gender,
            "birthDate": birth,
        }
        if deceased:
            r["deceasedDateTime"] = _ts(deceased)
        self.resources["Patient"].append(r)
        return pid

    def stay(
        self,
        sid: str,
        patient: str,
        start: str,
        end: str | None,
        *,
        provider: str = "org-h1-med",
        cls: str = "IMP",
        status: str = "finished",
        priority: str = "EM",
        admit_source: str = "emd",
        disposition: str = "home",
        nubc: str | None = None,
        attending: str | list[tuple[str, str]] = "pr-a",
        location: str | list[tuple[str, str, str]] = "loc-h1-bed",
        dx: list[str] | None = None,
        dx_use: str | None = None,
        procedures: list[str] | None = None,
        service_type: str | None = None,
        claim_dx: list[tuple[str, str]] | None = None,
        surgeon: str | None = None,
    ) -> str:
        """An inpatient encounter. ``dx[0]`` gets rank 1 (unless ``dx_use`` is given, then
        every diagnosis has that use and no rank); ``claim_dx`` adds a Claim with (code, POA);
        ``location`` is one location, or a list of (location, start, end) moves; ``nubc`` adds
        a NUBC discharge status coding after the HL7 one; ``surgeon`` performs the
        procedures."""
        period: dict[str, str] = {"start": _ts(start)}
        if end:
            period["end"] = _ts(end)
        enc: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": sid,
            "status": status,
            "class": {"system": ACT, "code": cls},
            "subject": {"reference": f"Patient/{patient}"},
            "period": period,
            "priority": _cc(PRIORITY, priority),
            "serviceProvider": {"reference": f"Organization/{provider}"},
            "hospitalization": {
                "admitSource": _cc(ADMIT_SOURCE, admit_source),
                "dischargeDisposition": {
                    "coding": [{"system": DISPOSITION, "code": disposition}]
                    + ([{"system": NUBC, "code": nubc}] if nubc else [])
                },
            },
            "location": _locations(location),
        }
        if service_type:
            enc["serviceType"] = _cc("http://example.org/service", service_type)
        atts = [(attending, start)] if isinstance(attending, str) else attending
        if atts:
            enc["participant"] = [
                {
                    "type": [_cc(PARTICIPATION, "ATND")],
                    "individual": {"reference": f"Practitioner/{who}"},
                    "period": {"start": _ts(when)},
                }
                for who, when in atts
            ]
        diagnoses = []
        for i, code in enumerate(dx or []):
            cid = f"{sid}-c{i}"
            self.resources["Condition"].append(
                {
                    "resourceType": "Condition",
                    "id": cid,
                    "code": {"coding": [{"system": ICD10CM, "code": code}]},
                    "subject": {"reference": f"Patient/{patient}"},
                    "encounter": {"reference": f"Encounter/{sid}"},
                }
            )
            d: dict[str, Any] = {"condition": {"reference": f"Condition/{cid}"}}
            if dx_use:
                d["use"] = _cc(DX_ROLE, dx_use)
            else:
                d["rank"] = i + 1
                d["use"] = _cc(DX_ROLE, "AD" if i == 0 else "CM")
            diagnoses.append(d)
        if diagnoses:
            enc["diagnosis"] = diagnoses
        self.resources["Encounter"].append(enc)
        for i, code in enumerate(procedures or []):
            proc: dict[str, Any] = {
                "resourceType": "Procedure",
                "id": f"{sid}-p{i}",
                "status": "completed",
                "code": {"coding": [{"system": ICD10PCS, "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "encounter": {"reference": f"Encounter/{sid}"},
                "performedDateTime": _ts(start),
            }
            if surgeon:
                proc["performer"] = [{"actor": {"reference": f"Practitioner/{surgeon}"}}]
            self.resources["Procedure"].append(proc)
        if claim_dx:
            self.resources["Claim"].append(
                {
                    "resourceType": "Claim",
                    "id": f"{sid}-claim",
                    "status": "active",
                    "use": "claim",
                    "type": _cc(
                        "http://terminology.hl7.org/CodeSystem/claim-type", "institutional"
                    ),
                    "patient": {"reference": f"Patient/{patient}"},
                    "created": _ts(end or start),
                    "provider": {"reference": f"Organization/{provider}"},
                    "priority": _cc(
                        "http://terminology.hl7.org/CodeSystem/processpriority", "normal"
                    ),
                    "insurance": [
                        {"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/x"}}
                    ],
                    "diagnosis": [
                        {
                            "sequence": i + 1,
                            "diagnosisCodeableConcept": {
                                "coding": [{"system": ICD10CM, "code": code}]
                            },
                            "onAdmission": _cc(POA, poa),
                        }
                        for i, (code, poa) in enumerate(claim_dx)
                    ],
                    "item": [
                        {
                            "sequence": 1,
                            "productOrService": _cc(
                                "https://www.nubc.org/CodeSystem/RevenueCodes", "0100"
                            ),
                            "encounter": [{"reference": f"Encounter/{sid}"}],
                        }
                    ],
                }
            )
        return sid

    def ed_visit(self, eid: str, patient: str, day: str, *, end: str | None = None) -> str:
        self.resources["Encounter"].append(
            {
                "resourceType": "Encounter",
                "id": eid,
                "status": "finished",
                "class": {"system": ACT, "code": "EMER"},
                "subject": {"reference": f"Patient/{patient}"},
                "period": {"start": _ts(day), "end": _ts(end or day)},
                "serviceProvider": {"reference": "Organization/org-h1"},
            }
        )
        return eid

    # -- build ------------------------------------------------------------------------------
    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for rtype, rows in self.resources.items():
            with (folder / f"{rtype}.ndjson").open("wb") as fh:
                for r in rows:
                    fh.write(orjson.dumps(r) + b"\n")
        return folder

    def build(self, wh: Any, folder: Path, *, as_of: date | None = None, **kwargs: Any) -> Any:
        """Ingest with the real ingest into ``wh`` and run the real build; returns BuildResult."""
        from cmo.fhir.ingest import ingest
        from cmo.measures.build import run

        result = ingest([self.write(folder)], wh, progress=False)
        assert result.quarantined == 0, "test-bed resources were quarantined"
        return run(wh, as_of=as_of, progress=False, **kwargs)


def long_rows(wh: Any, measure_id: str) -> dict[str, dict[str, Any]]:
    """stay_id -> long row of one measure."""
    t = wh.table("quality__measure_long")
    rows = t.filter(t.measure_id == measure_id).to_pyarrow().to_pylist()
    return {r["stay_id"]: r for r in rows}


def stays(wh: Any) -> dict[str, dict[str, Any]]:
    rows = wh.table("core__inpatient_stay").to_pyarrow().to_pylist()
    return {r["stay_id"]: r for r in rows}


def d(value: str) -> date:
    return date.fromisoformat(value)
