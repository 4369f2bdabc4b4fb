"""Every code valid in its system; a sample of every resource type validates as FHIR R4;
references resolve; the structure the measures rely on is there."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from cmo.demo import casemix as cx

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PCS_CODES = (
    {p.code for c in cx.CASE_TYPES for p in c.procedures}
    | set(cx.LEFT_PROCEDURE.values())
    | {cx.CENTRAL_LINE_PCS[0], cx.URINARY_CATHETER_PCS[0], cx.VENTILATION_PCS[0]}
)

# Written out here, not imported from the generator, so a type it drops fails the test.
EXPECTED_TYPES = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "Coverage",
    "Encounter",
    "Condition",
    "Procedure",
    "Observation",
    "Device",
    "DeviceUseStatement",
    "Claim",
    "ExplanationOfBenefit",
    "QuestionnaireResponse",
    "AdverseEvent",
]


def read(folder: Path, rtype: str) -> Iterator[dict[str, Any]]:
    with (folder / f"{rtype}.ndjson").open("rb") as f:
        for line in f:
            yield orjson.loads(line)


def codings(obj: Any) -> Iterator[dict[str, Any]]:
    """Every Coding anywhere inside a resource."""
    if isinstance(obj, dict):
        if "system" in obj and "code" in obj:
            yield obj
        for v in obj.values():
            yield from codings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from codings(v)


def references(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if "reference" in obj and isinstance(obj["reference"], str):
            yield obj["reference"]
        for v in obj.values():
            yield from references(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from references(v)


def manifest_types(folder: Path) -> list[str]:
    manifest = orjson.loads((folder / "manifest.json").read_bytes())
    return [o["type"] for o in manifest["output"]]


def test_manifest_lists_every_file_with_its_count(small_export: Path) -> None:
    manifest = orjson.loads((small_export / "manifest.json").read_bytes())
    assert manifest["requiresAccessToken"] is False
    assert manifest["transactionTime"].endswith("Z")
    for out in manifest["output"]:
        lines = (small_export / out["url"]).read_bytes().count(b"\n")
        assert lines == out["count"] > 0, out
    assert set(manifest_types(small_export)) == set(EXPECTED_TYPES)


def test_icd10cm_codes_valid_billable_with_display(small_export: Path) -> None:
    icd = pytest.importorskip("simple_icd_10_cm")
    seen: dict[str, str] = {}
    # Conditions and claim diagnoses hold every ICD-10-CM code the generator writes.
    for res in read(small_export, "Condition"):
        c = res["code"]["coding"][0]
        seen[c["code"]] = c["display"]
    for res in read(small_export, "Claim"):
        for d in res["diagnosis"]:
            c = d["diagnosisCodeableConcept"]["coding"][0]
            assert c["system"] == ICD10CM
            seen[c["code"]] = c["display"]
    assert len(seen) > 60
    for code, display in seen.items():
        assert icd.is_valid_item(code), code
        assert icd.is_leaf(code), f"{code} is not a billable (leaf) code"
        assert display == icd.get_description(code), code


def test_icd10pcs_codes_from_the_documented_list(small_export: Path) -> None:
    seen = {
        c["code"]
        for res in read(small_export, "Procedure")
        for c in codings(res)
        if c["system"] == cx.ICD10PCS
    }
    assert seen, "no procedures"
    assert seen <= PCS_CODES
    assert all(re.fullmatch(r"[0-9A-HJ-NP-Z]{7}", code) for code in seen)


@pytest.mark.parametrize(
    "rtype",
    EXPECTED_TYPES,
)
def test_sample_validates_as_fhir_r4(small_export: Path, rtype: str) -> None:
    # fhir.resources 8 ships R5 at the top level and R4B in a sub-package; R4B is R4 for every
    # resource written here (DeviceUseStatement was renamed only in R5).
    models = pytest.importorskip("fhir.resources.R4B")
    cls = models.get_fhir_model_class(rtype)
    lines = list(itertools.islice(read(small_export, rtype), 0, 400, 7))
    assert lines
    for res in lines:
        cls.model_validate(res)


def test_every_reference_resolves(small_export: Path) -> None:
    ids: set[str] = set()
    for rtype in manifest_types(small_export):
        ids.update(f"{rtype}/{r['id']}" for r in read(small_export, rtype))
    missing = {
        ref
        for rtype in manifest_types(small_export)
        for res in read(small_export, rtype)
        for ref in references(res)
        if ref not in ids
    }
    assert not missing, sorted(missing)[:5]


def test_organisation_and_location_hierarchy(small_export: Path) -> None:
    orgs = {o["id"]: o for o in read(small_export, "Organization")}
    hospitals = [
        o
        for o in orgs.values()
        if "partOf" not in o and o["type"][0]["coding"][0]["code"] == "prov"
    ]
    assert len(hospitals) == 3
    depts = [o for o in orgs.values() if "partOf" in o]
    assert all(
        orgs[d["partOf"]["reference"].split("/")[1]]["type"][0]["coding"][0]["code"] == "prov"
        for d in depts
    )
    locs = {loc["id"]: loc for loc in read(small_export, "Location")}
    rooms = [loc for loc in locs.values() if loc["physicalType"]["coding"][0]["code"] == "ro"]
    for room in rooms:
        ward = locs[room["partOf"]["reference"].split("/")[1]]
        assert ward["physicalType"]["coding"][0]["code"] == "wa"
    roles = {loc["type"][0]["coding"][0]["code"] for loc in locs.values() if "type" in loc}
    assert {"ICU", "ER", "OR", "HU"} <= roles


def test_inpatient_encounters_carry_what_the_measures_read(small_export: Path) -> None:
    n = 0
    sources, dispositions, priorities = set(), set(), set()
    for e in read(small_export, "Encounter"):
        if e["class"]["code"] != "IMP":
            continue
        n += 1
        types = {p["type"][0]["coding"][0]["code"] for p in e["participant"]}
        assert {"ATND", "ADM", "DIS"} <= types
        assert e["diagnosis"][0]["rank"] == 1
        assert [d["rank"] for d in e["diagnosis"]] == list(range(1, len(e["diagnosis"]) + 1))
        assert e["location"] and e["serviceProvider"]["reference"].startswith("Organization/")
        assert e["period"]["start"] <= e["period"]["end"]
        sources.add(e["hospitalization"]["admitSource"]["coding"][0]["code"])
        dispositions.add(e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"])
        priorities.add(e["priority"]["coding"][0]["code"])
    assert n > 300
    assert {"emd", "mp", "hosp-trans"} <= sources
    # HL7 codes by their definitions: hosp = hospice, other-hcf = transfer to another hospital.
    assert {"home", "alt-home", "snf", "rehab", "exp", "hosp", "other-hcf"} <= dispositions
    assert priorities == {"EM", "UR", "EL"}


def test_transfers_arrive_at_another_site_within_24_hours(small_export: Path) -> None:
    stays = defaultdict(list)
    for e in read(small_export, "Encounter"):
        if e["class"]["code"] == "IMP":
            stays[e["subject"]["reference"]].append(e)
    pairs = 0
    for lst in stays.values():
        lst.sort(key=lambda e: e["period"]["start"])
        for a, b in itertools.pairwise(lst):
            # HL7 other-hcf (NUBC 02) is the transfer; hosp is Hospice.
            if a["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] != "other-hcf":
                continue
            assert a["hospitalization"]["dischargeDisposition"]["coding"][1]["code"] == "02"
            assert b["hospitalization"]["admitSource"]["coding"][0]["code"] == "hosp-trans"
            assert a["serviceProvider"]["reference"][:20] != b["serviceProvider"]["reference"][:20]
            assert b["period"]["start"][:10] <= _plus_one(a["period"]["end"][:10])
            # Department ids are "<hospital id>-<department>", hospital ids "org-hN".
            sending, receiving = _hospital(a["serviceProvider"]), _hospital(b["serviceProvider"])
            assert a["hospitalization"]["destination"]["reference"] == f"Organization/{receiving}"
            assert b["hospitalization"]["origin"]["reference"] == f"Organization/{sending}"
            pairs += 1
    assert pairs > 0


def _hospital(reference: dict[str, str]) -> str:
    return reference["reference"].split("/")[1][: len("org-h1")]


def _plus_one(day: str) -> str:
    return date.fromordinal(date.fromisoformat(day).toordinal() + 1).isoformat()


def test_device_infections_start_on_day_three_or_later_and_not_present_on_admission(
    small_export: Path,
) -> None:
    admits = {e["id"]: e["period"]["start"][:10] for e in read(small_export, "Encounter")}
    hac = {cx.CLABSI_CODE, cx.CAUTI_CODE, *cx.FALL_CODES, cx.FALL_CAUSE}
    for c in read(small_export, "Condition"):
        code = c["code"]["coding"][0]["code"]
        if code in (cx.CLABSI_CODE, cx.CAUTI_CODE):
            admit = date.fromisoformat(admits[c["encounter"]["reference"].split("/")[1]])
            assert (date.fromisoformat(c["onsetDateTime"][:10]) - admit).days >= 2
    poa = 0
    for claim in read(small_export, "Claim"):
        for d in claim["diagnosis"]:
            code = d["diagnosisCodeableConcept"]["coding"][0]["code"]
            flag = d["onAdmission"]["coding"][0]["code"] if "onAdmission" in d else None
            if code in (cx.CLABSI_CODE, cx.CAUTI_CODE, cx.FALL_CAUSE):
                assert flag == "n"
                poa += 1
            if code in hac or code in cx.PRESSURE_CODES:
                assert flag in ("n", "y")
    assert poa > 0, "no hospital-acquired conditions at all in 1,500 patients"


def test_device_use_periods_and_links(small_export: Path) -> None:
    procs = {p["id"]: p for p in read(small_export, "Procedure")}
    kinds = set()
    for du in read(small_export, "DeviceUseStatement"):
        proc = procs[du["derivedFrom"][0]["reference"].split("/")[1]]
        assert proc["code"]["coding"][0]["code"] in (
            cx.CENTRAL_LINE_PCS[0],
            cx.URINARY_CATHETER_PCS[0],
        )
        assert du["timingPeriod"]["start"] <= du["timingPeriod"]["end"]
        kinds.add(proc["code"]["coding"][0]["code"])
    assert len(kinds) == 2


def test_claims_and_benefits_per_encounter(small_export: Path) -> None:
    encounters = sum(1 for _ in read(small_export, "Encounter"))
    claims = list(read(small_export, "Claim"))
    assert len(claims) == encounters
    assert all(c["total"]["value"] > 0 for c in claims)
    eobs = list(read(small_export, "ExplanationOfBenefit"))
    assert len(eobs) == encounters
    for eob in eobs[:200]:
        billed, paid = (t["amount"]["value"] for t in eob["total"])
        assert 0 < paid < billed
    payers = {c["type"]["coding"][0]["code"] for c in read(small_export, "Coverage")}
    assert payers == {"1", "2", "5", "81"}


def test_deaths_and_proms(small_export: Path) -> None:
    patients = list(read(small_export, "Patient"))
    dead = [p for p in patients if "deceasedDateTime" in p]
    assert 0.01 < len(dead) / len(patients) < 0.15
    ages = [2023 - int(p["birthDate"][:4]) for p in patients]
    assert min(ages) >= 17 and max(ages) <= 101
    assert 0.45 < sum(p["gender"] == "female" for p in patients) / len(patients) < 0.6
    qrs = list(read(small_export, "QuestionnaireResponse"))
    assert qrs, "no PROMIS responses"
    for q in qrs:
        assert q["questionnaire"] == cx.PROMIS_QUESTIONNAIRE
        assert len(q["item"]) == 10
        for item in q["item"]:
            value = item["answer"][0]["valueInteger"]
            assert 0 <= value <= (10 if item["linkId"] == "Global07" else 5) and value >= (
                0 if item["linkId"] == "Global07" else 1
            )


def test_discharge_labs_for_every_stay(small_export: Path) -> None:
    stays = {
        e["id"] for e in read(small_export, "Encounter") if e["class"]["code"] in ("IMP", "NONAC")
    }
    labs: dict[str, set[str]] = defaultdict(set)
    for o in read(small_export, "Observation"):
        code = o["code"]["coding"][0]["code"]
        labs[o["encounter"]["reference"].split("/")[1]].add(code)
        value = o["valueQuantity"]["value"]
        assert (4 < value < 25) if code == "718-7" else (110 < value < 165)
    assert set(labs) == stays
    assert all(codes == {"718-7", "2951-2"} for codes in labs.values())
