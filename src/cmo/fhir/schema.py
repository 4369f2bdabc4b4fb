"""One explicit schema per FHIR R4 resource: what is read from the JSON and which columns result.

Every table is declared once, as a list of column specs over FHIR paths. From that single
declaration come (ARCHITECTURE.md §5: never infer a schema):

* the typed JSON structure each line is parsed with (DuckDB ``json_transform`` / Spark
  ``from_json``), holding only the elements some column reads;
* the shape checks that quarantine a line whose value does not fit (``"birthDate": 12``);
* the flattening SQL (:mod:`cmo.fhir.sql`) and the warehouse column types.

Path syntax: ``hospitalization.dischargeDisposition``, ``category[0]`` (first element),
``identifier[system=http://hl7.org/fhir/sid/us-npi].value`` (first element whose ``system`` is
the URL). Source: FHIR R4 (4.0.1) resource definitions, https://hl7.org/fhir/R4/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# JSON scalar kinds of the parse structure.
STRING, DECIMAL, INTEGER, BOOLEAN = "string", "decimal", "integer", "boolean"

# FHIR datatypes as parse structures (only the elements the columns read).
CODING_T: dict[str, Any] = {"system": STRING, "code": STRING, "display": STRING}
CC_T: dict[str, Any] = {"coding": [CODING_T], "text": STRING}
REF_T: dict[str, Any] = {"reference": STRING, "type": STRING, "display": STRING}
PERIOD_T: dict[str, Any] = {"start": STRING, "end": STRING}
QTY_T: dict[str, Any] = {"value": DECIMAL, "unit": STRING, "system": STRING, "code": STRING}
MONEY_T: dict[str, Any] = {"value": DECIMAL, "currency": STRING}

# Warehouse column types, named once for both engines.
SQL_TYPES = {
    "string": ("VARCHAR", "STRING"),
    "boolean": ("BOOLEAN", "BOOLEAN"),
    "double": ("DOUBLE", "DOUBLE"),
    "bigint": ("BIGINT", "BIGINT"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP"),
    "date": ("DATE", "DATE"),
}

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]*)\]|(\.)")


@dataclass(frozen=True)
class Step:
    """One step of a FHIR path: a field, the first array element, or the first match."""

    field: str | None = None
    first: bool = False
    where: tuple[str, str] | None = None  # (key, value): first element with element[key] == value


def parse_path(path: str) -> tuple[Step, ...]:
    """``"a.b[0].c[system=x]"`` → steps; raises ValueError on anything else."""
    steps: list[Step] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        if m.start() != pos:
            raise ValueError(f"bad FHIR path {path!r} at {pos}")
        pos = m.end()
        name, bracket, dot = m.groups()
        if dot:
            continue
        if name:
            steps.append(Step(field=name))
        elif bracket == "0":
            steps.append(Step(first=True))
        elif bracket and "=" in bracket:
            key, value = bracket.split("=", 1)
            steps.append(Step(where=(key, value)))
        else:
            raise ValueError(f"bad FHIR path {path!r}: [{bracket}]")
    if pos != len(path) or not steps or steps[0].field is None:
        raise ValueError(f"bad FHIR path {path!r}")
    return tuple(steps)


@dataclass(frozen=True)
class Col:
    """A column spec: ``kind`` says how a FHIR element becomes one or more warehouse columns.

    kinds: str, bool, dec, int (scalars); date (text + _ts + _date); cc / coding (first coding's
    code, system, display); ref (type, id); period (start*, end*); qty (value, unit, code,
    system); money (value, currency); join (array of strings joined by a space).
    """

    name: str
    kind: str
    path: str
    bare: bool | None = None  # cc/coding: name the code column `name` itself (`code`, `value_code`)

    @property
    def steps(self) -> tuple[Step, ...]:
        return parse_path(self.path)

    def leaf(self) -> Any:
        """The parse structure of the element this column reads."""
        return {
            "str": STRING,
            "bool": BOOLEAN,
            "dec": DECIMAL,
            "int": INTEGER,
            "date": STRING,
            "cc": CC_T,
            "coding": CODING_T,
            "ref": REF_T,
            "period": PERIOD_T,
            "qty": QTY_T,
            "money": MONEY_T,
            "join": [STRING],
        }[self.kind]

    def is_bare(self) -> bool:
        return self.bare if self.bare is not None else self.name.endswith("code")

    def outputs(self) -> list[tuple[str, str]]:
        """(column name, warehouse type) for every column this spec produces."""
        n = self.name
        if self.kind in ("str", "join"):
            return [(n, "string")]
        if self.kind == "bool":
            return [(n, "boolean")]
        if self.kind == "dec":
            return [(n, "double")]
        if self.kind == "int":
            return [(n, "bigint")]
        if self.kind == "date":
            return [(n, "string"), (f"{n}_ts", "timestamp"), (f"{n}_date", "date")]
        if self.kind in ("cc", "coding"):
            c = n if self.is_bare() else f"{n}_code"
            return [
                (c, "string"),
                (f"{c}_system" if self.is_bare() else f"{n}_system", "string"),
                (f"{c}_display" if self.is_bare() else f"{n}_display", "string"),
            ]
        if self.kind == "ref":
            return [(f"{n}_type", "string"), (f"{n}_id", "string")]
        if self.kind == "period":
            return [
                *Col(f"{n}_start", "date", "x").outputs(),
                *Col(f"{n}_end", "date", "x").outputs(),
            ]
        if self.kind == "qty":
            return [
                (f"{n}_value", "double"),
                (f"{n}_unit", "string"),
                (f"{n}_code", "string"),
                (f"{n}_system", "string"),
            ]
        if self.kind == "money":
            return [(f"{n}_value", "double"), (f"{n}_currency", "string")]
        raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class Child:
    """A child table for a repeating element: one row per element, keyed by parent id and pos."""

    name: str  # table name without layer, e.g. "encounter_diagnosis"
    path: str  # the array, e.g. "diagnosis" or "hospitalization.dischargeDisposition.coding"
    columns: tuple[Col, ...]
    scalar: str | None = None  # the elements are scalars: one column with this name and kind str
    # A recursive element (QuestionnaireResponse.item.item): rows for every level down to
    # ``depth``, numbered in document order (pre-order), with their level and parent's pos.
    nested: str | None = None
    depth: int = 1


@dataclass(frozen=True)
class Resource:
    """A FHIR resource type and the warehouse tables it produces."""

    resource_type: str
    table: str  # e.g. "encounter" → fhir__encounter
    columns: tuple[Col, ...]
    children: tuple[Child, ...] = ()
    parse_tree: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def parent_key(self) -> str:
        return f"{self.table}_id"

    def main_outputs(self) -> list[tuple[str, str]]:
        cols: list[tuple[str, str]] = [("id", "string")]
        cols += Col("last_updated", "date", "meta.lastUpdated").outputs()
        for c in self.columns:
            cols += c.outputs()
        cols += [("source_file", "string"), ("source_line", "bigint")]
        return cols

    def child_outputs(self, child: Child) -> list[tuple[str, str]]:
        cols: list[tuple[str, str]] = [(self.parent_key, "string"), ("pos", "bigint")]
        if child.nested:
            cols += [("depth", "bigint"), ("parent_pos", "bigint")]
        if child.scalar:
            cols.append((child.scalar, "string"))
        for c in child.columns:
            cols += c.outputs()
        return cols

    def tables(self) -> dict[str, list[tuple[str, str]]]:
        """Every warehouse table (without layer prefix) of this resource and its columns."""
        out = {self.table: self.main_outputs()}
        for ch in self.children:
            out[ch.name] = self.child_outputs(ch)
        return out


# -- parse structure ---------------------------------------------------------------------


def _merge(a: Any, b: Any, where: str) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(out[k], v, f"{where}.{k}") if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0], b[0], f"{where}[]")]
    if a == b:
        return a
    raise ValueError(f"conflicting FHIR element types at {where}: {a!r} vs {b!r}")


def _tree_for(steps: tuple[Step, ...], leaf: Any) -> Any:
    """The nested parse structure that reaches ``leaf`` along ``steps``."""
    node = leaf
    for step in reversed(steps):
        if step.field is not None:
            node = {step.field: node}
        elif step.first:
            node = [node]
        else:
            assert step.where is not None
            node = [_merge(node, {step.where[0]: STRING}, step.where[0])]
    return node


def build_tree(res: Resource) -> dict[str, Any]:
    tree: dict[str, Any] = {"resourceType": STRING, "id": STRING, "meta": {"lastUpdated": STRING}}
    for c in res.columns:
        tree = _merge(tree, _tree_for(c.steps, c.leaf()), res.resource_type)
    for ch in res.children:
        elem: Any = {}
        if ch.scalar:
            elem = STRING
        for c in ch.columns:
            elem = _merge(elem, _tree_for(c.steps, c.leaf()), f"{res.resource_type}.{ch.path}")
        if ch.nested:
            inner = elem
            for _ in range(ch.depth - 1):
                inner = _merge(elem, {ch.nested: [inner]}, f"{res.resource_type}.{ch.path}")
            elem = inner
        tree = _merge(tree, _tree_for(parse_path(ch.path), [elem]), res.resource_type)
    return tree


def shape_checks(tree: dict[str, Any], prefix: str = "$") -> list[tuple[str, str]]:
    """(JSON path, expected kind) for every element reached without crossing an array.

    kinds: object, array, string, decimal, integer, boolean. Elements inside arrays are parsed
    leniently (a value of the wrong type becomes null) — checking them would cost a second
    parse per array element.
    """
    out: list[tuple[str, str]] = []
    for key, sub in tree.items():
        path = f"{prefix}.{key}"
        if isinstance(sub, dict):
            out.append((path, "object"))
            out += shape_checks(sub, path)
        elif isinstance(sub, list):
            out.append((path, "array"))
        else:
            out.append((path, sub))
    return out


# -- the resources -----------------------------------------------------------------------

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
NPI = "http://hl7.org/fhir/sid/us-npi"


def C(name: str, kind: str, path: str, bare: bool | None = None) -> Col:  # noqa: N802
    return Col(name, kind, path, bare)


CODING_COLS = (
    C("code", "str", "code"),
    C("system", "str", "system"),
    C("display", "str", "display"),
)

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "Patient",
        "patient",
        (
            C("active", "bool", "active"),
            C("gender", "str", "gender"),
            C("birth_date", "date", "birthDate"),
            C("deceased_boolean", "bool", "deceasedBoolean"),
            C("deceased_date_time", "date", "deceasedDateTime"),
            C("family", "str", "name[0].family"),
            C("given", "join", "name[0].given"),
            C(
                "race",
                "coding",
                f"extension[url={US_CORE}/us-core-race].extension[url=ombCategory].valueCoding",
            ),
            C(
                "ethnicity",
                "coding",
                f"extension[url={US_CORE}/us-core-ethnicity]"
                ".extension[url=ombCategory].valueCoding",
            ),
            C("birth_sex", "str", f"extension[url={US_CORE}/us-core-birthsex].valueCode"),
            C("marital_status", "cc", "maritalStatus"),
            C("address_city", "str", "address[0].city"),
            C("address_state", "str", "address[0].state"),
            C("address_postal_code", "str", "address[0].postalCode"),
            C("managing_organization", "ref", "managingOrganization"),
        ),
        (
            Child(
                "patient_identifier",
                "identifier",
                (
                    C("system", "str", "system"),
                    C("value", "str", "value"),
                    C("type", "cc", "type"),
                ),
            ),
        ),
    ),
    Resource(
        "Encounter",
        "encounter",
        (
            C("status", "str", "status"),
            C("class", "coding", "class"),
            C("type", "cc", "type[0]"),
            C("service_type", "cc", "serviceType"),
            C("priority", "cc", "priority"),
            C("subject", "ref", "subject"),
            C("period", "period", "period"),
            C("length_value", "dec", "length.value"),
            C("reason", "cc", "reasonCode[0]"),
            C("admit_source", "cc", "hospitalization.admitSource"),
            C("discharge_disposition", "cc", "hospitalization.dischargeDisposition"),
            C("service_provider", "ref", "serviceProvider"),
            C("part_of", "ref", "partOf"),
        ),
        (
            Child(
                "encounter_diagnosis",
                "diagnosis",
                (
                    C("condition", "ref", "condition"),
                    C("use", "cc", "use"),
                    C("rank", "int", "rank"),
                ),
            ),
            Child(
                "encounter_participant",
                "participant",
                (
                    C("type", "cc", "type[0]"),
                    C("individual", "ref", "individual"),
                    C("period", "period", "period"),
                ),
            ),
            Child(
                "encounter_location",
                "location",
                (
                    C("location", "ref", "location"),
                    C("status", "str", "status"),
                    C("physical_type", "cc", "physicalType"),
                    C("period", "period", "period"),
                ),
            ),
            # All codings: home health / hospice are a NUBC code in a second coding (data-model.md).
            Child(
                "encounter_discharge_disposition",
                "hospitalization.dischargeDisposition.coding",
                CODING_COLS,
            ),
        ),
    ),
    Resource(
        "Condition",
        "condition",
        (
            C("clinical_status", "cc", "clinicalStatus"),
            C("verification_status", "cc", "verificationStatus"),
            C("category", "cc", "category[0]"),
            C("severity", "cc", "severity"),
            C("code", "cc", "code"),
            C("code_text", "str", "code.text"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("onset_date_time", "date", "onsetDateTime"),
            C("abatement_date_time", "date", "abatementDateTime"),
            C("recorded_date", "date", "recordedDate"),
        ),
        (Child("condition_coding", "code.coding", CODING_COLS),),
    ),
    Resource(
        "Procedure",
        "procedure",
        (
            C("status", "str", "status"),
            C("category", "cc", "category"),
            C("code", "cc", "code"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("performed_date_time", "date", "performedDateTime"),
            C("performed_period", "period", "performedPeriod"),
            C("location", "ref", "location"),
            C("outcome", "cc", "outcome"),
        ),
        (
            Child("procedure_coding", "code.coding", CODING_COLS),
            Child(
                "procedure_performer",
                "performer",
                (
                    C("function", "cc", "function"),
                    C("actor", "ref", "actor"),
                ),
            ),
        ),
    ),
    Resource(
        "Observation",
        "observation",
        (
            C("status", "str", "status"),
            C("category", "cc", "category[0]"),
            C("code", "cc", "code"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("effective_date_time", "date", "effectiveDateTime"),
            C("effective_period", "period", "effectivePeriod"),
            C("issued", "date", "issued"),
            C("value_quantity", "qty", "valueQuantity"),
            C("value_code", "cc", "valueCodeableConcept"),
            C("value_string", "str", "valueString"),
            C("value_boolean", "bool", "valueBoolean"),
            C("value_date_time", "date", "valueDateTime"),
            C("value_integer", "int", "valueInteger"),
            C("interpretation", "cc", "interpretation[0]"),
            C("data_absent_reason", "cc", "dataAbsentReason"),
        ),
        (
            Child(
                "observation_component",
                "component",
                (
                    C("code", "cc", "code"),
                    C("value_quantity", "qty", "valueQuantity"),
                    C("value_code", "cc", "valueCodeableConcept"),
                    C("value_string", "str", "valueString"),
                ),
            ),
        ),
    ),
    Resource(
        "MedicationRequest",
        "medication_request",
        (
            C("status", "str", "status"),
            C("intent", "str", "intent"),
            C("category", "cc", "category[0]"),
            C("priority", "str", "priority"),
            C("medication", "cc", "medicationCodeableConcept"),
            C("medication_reference", "ref", "medicationReference"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("authored_on", "date", "authoredOn"),
            C("requester", "ref", "requester"),
            C("route", "cc", "dosageInstruction[0].route"),
        ),
    ),
    Resource(
        "MedicationAdministration",
        "medication_administration",
        (
            C("status", "str", "status"),
            C("category", "cc", "category"),
            C("medication", "cc", "medicationCodeableConcept"),
            C("medication_reference", "ref", "medicationReference"),
            C("subject", "ref", "subject"),
            # R4 names the encounter `context`; the column says what it is.
            C("encounter", "ref", "context"),
            C("effective_date_time", "date", "effectiveDateTime"),
            C("effective_period", "period", "effectivePeriod"),
            C("dose", "qty", "dosage.dose"),
            C("route", "cc", "dosage.route"),
        ),
    ),
    Resource(
        "Device",
        "device",
        (
            C("status", "str", "status"),
            C("type", "cc", "type"),
            C("udi_device_identifier", "str", "udiCarrier[0].deviceIdentifier"),
            C("device_name", "str", "deviceName[0].name"),
            C("manufacturer", "str", "manufacturer"),
            C("model_number", "str", "modelNumber"),
            C("lot_number", "str", "lotNumber"),
            C("expiration_date", "date", "expirationDate"),
            C("patient", "ref", "patient"),
            C("owner", "ref", "owner"),
            C("location", "ref", "location"),
        ),
    ),
    Resource(
        "DeviceUseStatement",
        "device_use",
        (
            C("status", "str", "status"),
            C("subject", "ref", "subject"),
            C("device", "ref", "device"),
            C("timing_period", "period", "timingPeriod"),
            C("timing_date_time", "date", "timingDateTime"),
            C("recorded_on", "date", "recordedOn"),
            C("body_site", "cc", "bodySite"),
            C("reason", "cc", "reasonCode[0]"),
            C("derived_from", "ref", "derivedFrom[0]"),
        ),
    ),
    Resource(
        "QuestionnaireResponse",
        "questionnaire_response",
        (
            C("questionnaire", "str", "questionnaire"),
            C("status", "str", "status"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("authored", "date", "authored"),
            C("author", "ref", "author"),
        ),
        (
            # Items down to three levels (groups in groups), each with its first answer.
            Child(
                "questionnaire_response_item",
                "item",
                nested="item",
                depth=3,
                columns=(
                    C("link_id", "str", "linkId"),
                    C("text", "str", "text"),
                    C("answer_boolean", "bool", "answer[0].valueBoolean"),
                    C("answer_decimal", "dec", "answer[0].valueDecimal"),
                    C("answer_integer", "int", "answer[0].valueInteger"),
                    C("answer_date", "date", "answer[0].valueDate"),
                    C("answer_date_time", "date", "answer[0].valueDateTime"),
                    C("answer_string", "str", "answer[0].valueString"),
                    C("answer_coding", "coding", "answer[0].valueCoding"),
                    C("answer_quantity", "qty", "answer[0].valueQuantity"),
                    C("answer_reference", "ref", "answer[0].valueReference"),
                ),
            ),
        ),
    ),
    Resource(
        "Practitioner",
        "practitioner",
        (
            C("active", "bool", "active"),
            C("npi", "str", f"identifier[system={NPI}].value"),
            C("family", "str", "name[0].family"),
            C("given", "join", "name[0].given"),
            C("prefix", "join", "name[0].prefix"),
            C("gender", "str", "gender"),
            C("birth_date", "date", "birthDate"),
            C("qualification", "cc", "qualification[0].code"),
        ),
        (
            Child(
                "practitioner_identifier",
                "identifier",
                (
                    C("system", "str", "system"),
                    C("value", "str", "value"),
                ),
            ),
        ),
    ),
    Resource(
        "PractitionerRole",
        "practitioner_role",
        (
            C("active", "bool", "active"),
            C("practitioner", "ref", "practitioner"),
            C("organization", "ref", "organization"),
            C("code", "cc", "code[0]", bare=False),
            C("specialty", "cc", "specialty[0]"),
            C("location", "ref", "location[0]"),
            C("period", "period", "period"),
        ),
    ),
    Resource(
        "Organization",
        "organization",
        (
            C("active", "bool", "active"),
            C("name", "str", "name"),
            C("type", "cc", "type[0]"),
            C("npi", "str", f"identifier[system={NPI}].value"),
            C("part_of", "ref", "partOf"),
            C("address_state", "str", "address[0].state"),
        ),
    ),
    Resource(
        "Location",
        "location",
        (
            C("name", "str", "name"),
            C("status", "str", "status"),
            C("mode", "str", "mode"),
            C("type", "cc", "type[0]"),
            C("physical_type", "cc", "physicalType"),
            C("part_of", "ref", "partOf"),
            C("managing_organization", "ref", "managingOrganization"),
        ),
    ),
    Resource(
        "Claim",
        "claim",
        (
            C("status", "str", "status"),
            C("use", "str", "use"),
            C("type", "cc", "type"),
            C("patient", "ref", "patient"),
            C("billable_period", "period", "billablePeriod"),
            C("created", "date", "created"),
            C("provider", "ref", "provider"),
            C("insurer", "ref", "insurer"),
            C("facility", "ref", "facility"),
            C("priority", "cc", "priority"),
            C("total", "money", "total"),
            C("encounter", "ref", "item[0].encounter[0]"),
        ),
        (
            Child(
                "claim_diagnosis",
                "diagnosis",
                (
                    C("sequence", "int", "sequence"),
                    C("code", "cc", "diagnosisCodeableConcept"),
                    C("diagnosis_reference", "ref", "diagnosisReference"),
                    C("on_admission", "cc", "onAdmission"),
                    C("type", "cc", "type[0]"),
                ),
            ),
            Child(
                "claim_procedure",
                "procedure",
                (
                    C("sequence", "int", "sequence"),
                    C("code", "cc", "procedureCodeableConcept"),
                    C("procedure_reference", "ref", "procedureReference"),
                    C("date", "date", "date"),
                ),
            ),
            Child(
                "claim_item",
                "item",
                (
                    C("sequence", "int", "sequence"),
                    C("revenue", "cc", "revenue"),
                    C("product_or_service", "cc", "productOrService"),
                    C("serviced_date", "date", "servicedDate"),
                    C("serviced_period", "period", "servicedPeriod"),
                    C("quantity_value", "dec", "quantity.value"),
                    C("unit_price", "money", "unitPrice"),
                    C("net", "money", "net"),
                    C("encounter", "ref", "encounter[0]"),
                ),
            ),
        ),
    ),
    Resource(
        "ExplanationOfBenefit",
        "explanation_of_benefit",
        (
            C("status", "str", "status"),
            C("use", "str", "use"),
            C("outcome", "str", "outcome"),
            C("type", "cc", "type"),
            C("patient", "ref", "patient"),
            C("billable_period", "period", "billablePeriod"),
            C("created", "date", "created"),
            C("provider", "ref", "provider"),
            C("insurer", "ref", "insurer"),
            C("claim", "ref", "claim"),
            C("total", "money", "total[0].amount"),
            C("payment", "money", "payment.amount"),
            C("encounter", "ref", "item[0].encounter[0]"),
        ),
    ),
    Resource(
        "Coverage",
        "coverage",
        (
            C("status", "str", "status"),
            C("type", "cc", "type"),
            C("subscriber_identifier", "str", "subscriberId"),  # subscriber_id is the reference
            C("subscriber", "ref", "subscriber"),
            C("beneficiary", "ref", "beneficiary"),
            C("relationship", "cc", "relationship"),
            C("period", "period", "period"),
            C("payor", "ref", "payor[0]"),
            C("class_value", "str", "class[0].value"),
            C("class_name", "str", "class[0].name"),
        ),
    ),
    # AdverseEvent (R4): EHR-recorded safety events, shown in the safety queue (issue 17).
    Resource(
        "AdverseEvent",
        "adverse_event",
        (
            C("actuality", "str", "actuality"),
            C("category", "cc", "category[0]"),
            C("event", "cc", "event"),
            C("event_text", "str", "event.text"),
            C("subject", "ref", "subject"),
            C("encounter", "ref", "encounter"),
            C("date", "date", "date"),
            C("detected", "date", "detected"),
            C("recorded_date", "date", "recordedDate"),
            C("location", "ref", "location"),
            C("seriousness", "cc", "seriousness"),
            C("severity", "cc", "severity"),
            C("outcome", "cc", "outcome"),
            C("recorder", "ref", "recorder"),
        ),
    ),
)

for _r in RESOURCES:
    object.__setattr__(_r, "parse_tree", build_tree(_r))

BY_TYPE: dict[str, Resource] = {r.resource_type: r for r in RESOURCES}


def all_tables() -> dict[str, list[tuple[str, str]]]:
    """Every fhir-layer table name (without ``fhir__``) → its (column, type) list."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in RESOURCES:
        out.update(r.tables())
    return out


def _sources(col: Col) -> list[str]:
    """Where each output column of ``col`` comes from, as FHIR path text (docs/data-model.md)."""
    p = col.path
    if col.kind in ("cc", "coding"):
        base = f"{p}.coding[0]" if col.kind == "cc" else p
        return [f"{base}.code", f"{base}.system", f"{base}.display"]
    if col.kind == "ref":
        return [f"{p}.reference (type part; else {p}.type)", f"{p}.reference (id part)"]
    if col.kind == "date":
        return [p, f"{p} → UTC instant", f"{p} → local date"]
    if col.kind == "period":
        return [x for end in ("start", "end") for x in _sources(Col("x", "date", f"{p}.{end}"))]
    if col.kind == "qty":
        return [f"{p}.{k}" for k in ("value", "unit", "code", "system")]
    if col.kind == "money":
        return [f"{p}.value", f"{p}.currency"]
    if col.kind == "join":
        return [f"{p} (joined with spaces)"]
    return [p]


def describe() -> list[tuple[str, str, str, str]]:
    """(table, column, type, FHIR source) for every column of every fhir table."""
    out: list[tuple[str, str, str, str]] = []
    common = {"id": "id", "source_file": "(input file)", "source_line": "(line in that file)"}
    for r in RESOURCES:
        lu = Col("last_updated", "date", "meta.lastUpdated")
        srcs: dict[str, str] = dict(common)
        for c in (lu, *r.columns):
            srcs.update(zip([n for n, _ in c.outputs()], _sources(c), strict=True))
        for name, typ in r.main_outputs():
            out.append((f"fhir__{r.table}", name, typ, f"{r.resource_type}.{srcs[name]}"))
        for ch in r.children:
            csrc: dict[str, str] = {
                r.parent_key: "id (parent)",
                "pos": "(0-based position)",
                "depth": f"(nesting level of {ch.nested}: 1 = top)",
                "parent_pos": f"(pos of the enclosing {ch.nested}; null at level 1)",
            }
            for c in ch.columns:
                csrc.update(zip([n for n, _ in c.outputs()], _sources(c), strict=True))
            for name, typ in r.child_outputs(ch):
                src = csrc[name]
                if not src.startswith(("id", "(")):
                    src = f"{r.resource_type}.{ch.path}[*].{src}"
                out.append((f"fhir__{ch.name}", name, typ, src))
    return out


def tables_markdown() -> str:
    """The "Every fhir table and column" tables of docs/data-model.md, generated.

    Refresh the doc after a schema change with
    ``python -c "from cmo.fhir.schema import tables_markdown; print(tables_markdown())"``.
    """
    by_table: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, typ, source in describe():
        by_table.setdefault(table, []).append((column, typ, source))
    lines: list[str] = []
    for table, cols in by_table.items():
        lines += [f"### {table}", "", "| column | type | FHIR source |", "|---|---|---|"]
        lines += [f"| {c} | {t} | `{s}` |" for c, t, s in cols]
        lines.append("")
    return "\n".join(lines)
