"""The hand-written edge cases (tests/fixtures/fhir) flatten to exactly the documented rows."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from ingest_helpers import one, rows

from cmo.fhir.ingest import ingest


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, edge_dir, bundle_dir):
    """One ingest of the edge cases, shared by the read-only tests of this module."""
    from cmo.warehouse import connect

    wh = connect(tmp_path_factory.mktemp("edge") / "warehouse.duckdb")
    result = ingest([edge_dir, bundle_dir], wh, progress=False)
    yield wh, result
    wh.close()


def test_summary_counts_types_and_other_types(loaded) -> None:
    wh, result = loaded
    assert result.quarantined == 0
    assert result.other_types == {"CareTeam": 1}  # counted, not an error
    assert result.rows["fhir__patient"] == 5
    assert result.rows["fhir__observation"] == 7
    assert wh.count("fhir__patient") == 5


def test_partial_dates_take_first_day_and_offsets_go_to_utc(loaded) -> None:
    wh, _ = loaded
    year = one(wh, "SELECT * FROM fhir__patient WHERE id = 'p-year'")
    assert (year["birth_date"], year["birth_date_date"]) == ("1970", date(1970, 1, 1))
    month = one(wh, "SELECT * FROM fhir__patient WHERE id = 'p-month'")
    assert month["birth_date_date"] == date(1985, 3, 1)
    assert month["birth_date_ts"] == datetime(1985, 3, 1)
    full = one(wh, "SELECT * FROM fhir__patient WHERE id = 'p-full'")
    # 23:30 at -05:00 is 04:30 UTC the next day; the _date is the local date as written.
    assert full["deceased_date_time"] == "2024-03-01T23:30:00-05:00"
    assert full["deceased_date_time_ts"] == datetime(2024, 3, 2, 4, 30)
    assert full["deceased_date_time_date"] == date(2024, 3, 1)
    assert full["last_updated_ts"] == datetime(2024, 5, 1, 10, 0)
    enc = one(wh, "SELECT * FROM fhir__encounter WHERE id = 'e-inp'")
    assert enc["period_end_ts"] == datetime(2024, 3, 4, 9, 15, 30, 500000)
    amb = one(wh, "SELECT * FROM fhir__encounter WHERE id = 'e-amb'")
    assert (amb["period_start_date"], amb["period_end"]) == (date(2024, 5, 1), None)
    obs = one(wh, "SELECT * FROM fhir__observation WHERE id = 'o-dt'")
    assert obs["value_date_time_ts"] == datetime(2024, 3, 1, 19, 30)  # +05:30


def test_choice_types_split_into_typed_columns(loaded) -> None:
    wh, _ = loaded
    got = {
        r[0]: r[1:]
        for r in rows(
            wh,
            "SELECT id, value_quantity_value, value_quantity_unit, value_quantity_code, value_code,"
            " value_string, value_boolean, value_integer FROM fhir__observation",
        )
    }
    assert got["o-qty"] == (98.6, "degF", "[degF]", None, None, None, None)  # never rounded
    assert got["o-int-qty"][0] == 72.0
    assert got["o-cc"][3] == "8517006"
    assert got["o-str"][4] == "naïve – ünïcödé ✓ 😀"
    assert got["o-bool"][5] is True
    assert got["o-int"][6] == 7
    comps = rows(
        wh,
        "SELECT pos, code, value_quantity_value FROM fhir__observation_component "
        "WHERE observation_id = 'o-int' ORDER BY pos",
    )
    assert comps == [(0, "8480-6", 120.0), (1, "8462-4", 80.0)]


def test_missing_optional_elements_are_null(loaded) -> None:
    wh, _ = loaded
    p = one(wh, "SELECT * FROM fhir__patient WHERE id = 'p-min'")
    assert p["source_line"] == 2
    assert p["source_file"].endswith("Patient.ndjson")
    assert all(v is None for k, v in p.items() if k not in ("id", "source_file", "source_line"))


def test_references_contained_versioned_conditional_and_bundle_urns(loaded) -> None:
    wh, _ = loaded
    p = one(
        wh,
        "SELECT managing_organization_type t, managing_organization_id i "
        "FROM fhir__patient WHERE id = 'p-month'",
    )
    assert (p["t"], p["i"]) == (None, "#o1")  # contained
    dx = rows(
        wh,
        "SELECT condition_type, condition_id, use_code, rank FROM "
        "fhir__encounter_diagnosis WHERE encounter_id = 'e-inp' ORDER BY pos",
    )
    assert dx == [("Condition", "c-1", "AD", 1), (None, "#c-local", None, 2)]
    part = rows(
        wh,
        "SELECT pos, type_code, individual_type, individual_id FROM "
        "fhir__encounter_participant WHERE encounter_id = 'e-inp' ORDER BY pos",
    )
    # A versioned absolute URL; a participant without a type keeps a null type.
    assert part == [(0, "ATND", "Practitioner", "dr-1"), (1, None, "Practitioner", "dr-2")]
    cond = one(
        wh,
        "SELECT individual_type, individual_id FROM fhir__encounter_participant "
        "WHERE encounter_id = 'e-amb'",
    )
    assert (cond["individual_type"], cond["individual_id"]) == ("Practitioner", None)
    # A conditional reference in a Bundle resolves through the identifiers of the run's
    # Bundles (here another file: Synthea writes practitioners in their own Bundle).
    synthea = one(
        wh,
        "SELECT individual_type, individual_id FROM fhir__encounter_participant "
        "WHERE encounter_id = '0b5c2d60-8f5e-4b8c-9d3a-0c7e4b2f6a11'",
    )
    assert synthea == {
        "individual_type": "Practitioner",
        "individual_id": "bb22bb22-0000-4000-8000-000000000002",
    }
    # Bundle urn:uuid references are resolved to Type/id through the entries' fullUrl.
    c = one(wh, "SELECT * FROM fhir__condition")
    assert (c["subject_type"], c["subject_id"]) == (
        "Patient",
        "5cbc121b-cd71-4428-b8b7-31e53eba8184",
    )
    assert c["encounter_type"] == "Encounter"
    assert c["source_file"].endswith("transaction.json") and c["source_line"] == 3


def test_several_codings_first_in_columns_all_in_child_table(loaded) -> None:
    wh, _ = loaded
    e = one(
        wh,
        "SELECT discharge_disposition_code, discharge_disposition_system "
        "FROM fhir__encounter WHERE id = 'e-inp'",
    )
    assert e["discharge_disposition_code"] == "oth"
    all_codes = rows(
        wh,
        "SELECT pos, system, code FROM fhir__encounter_discharge_disposition "
        "WHERE encounter_id = 'e-inp' ORDER BY pos",
    )
    assert [r[2] for r in all_codes] == ["oth", "50"]
    assert all_codes[1][1] == "https://www.nubc.org/CodeSystem/PatDischargeStatus"
    codes = rows(wh, "SELECT code, system FROM fhir__condition_coding ORDER BY pos")
    assert codes == [
        ("44054006", "http://snomed.info/sct"),
        ("E11.9", "http://hl7.org/fhir/sid/icd-10-cm"),
    ]


def test_extensions_unicode_and_identifiers(loaded) -> None:
    wh, _ = loaded
    p = one(wh, "SELECT * FROM fhir__patient WHERE id = 'p-full'")
    assert (p["race_code"], p["race_display"], p["birth_sex"]) == ("2106-3", "White", "F")
    assert (p["family"], p["given"]) == ("Zoë-Müller", "Anaïs 李")
    ids = rows(
        wh,
        "SELECT pos, system, value, type_code FROM fhir__patient_identifier "
        "WHERE patient_id = 'p-full' ORDER BY pos",
    )
    assert ids[0] == (0, "http://hospital.example.org/mrn", "MRN-1", "MR")
    assert len(ids) == 2
    dr = one(wh, "SELECT npi, family, given, prefix FROM fhir__practitioner")
    assert dr == {"npi": "9999967", "family": "Núñez", "given": "José Luis", "prefix": "Dr."}
    org = one(wh, "SELECT npi, part_of_id FROM fhir__organization WHERE id = 'org-1'")
    assert org == {"npi": "1144221847", "part_of_id": None}
    assert one(
        wh, "SELECT part_of_type, part_of_id FROM fhir__organization WHERE id = 'dept-card'"
    ) == {"part_of_type": "Organization", "part_of_id": "org-1"}


def test_claim_with_diagnoses_on_admission_and_items(loaded) -> None:
    wh, _ = loaded
    c = one(wh, "SELECT * FROM fhir__claim")
    assert (c["encounter_type"], c["encounter_id"]) == ("Encounter", "e-inp")
    assert (c["total_value"], c["total_currency"]) == (12345.67, "USD")
    assert c["billable_period_start_ts"] == datetime(2024, 3, 1)
    dx = rows(
        wh,
        "SELECT sequence, code, on_admission_code, type_code FROM fhir__claim_diagnosis "
        "ORDER BY pos",
    )
    assert dx == [(1, "I21.4", "y", "principal"), (2, "N17.9", "n", None)]
    item = one(wh, "SELECT * FROM fhir__claim_item")
    assert (item["product_or_service_code"], item["encounter_id"]) == ("280", "e-inp")
    loc = one(wh, "SELECT * FROM fhir__location")
    assert (loc["part_of_id"], loc["managing_organization_id"]) == ("main", "org-1")
    role = one(wh, "SELECT * FROM fhir__practitioner_role")
    assert (role["code_code"], role["specialty_code"]) == ("doctor", "207RC0000X")
    assert role["organization_id"] == "dept-card"


def test_nested_questionnaire_items_in_document_order(loaded) -> None:
    wh, _ = loaded
    got = rows(
        wh,
        "SELECT pos, depth, parent_pos, link_id, answer_integer, answer_string, "
        "answer_coding_code, answer_boolean FROM fhir__questionnaire_response_item "
        "WHERE questionnaire_response_id = 'qr1' ORDER BY pos",
    )
    assert got == [
        (0, 1, None, "1", 2, None, None, None),
        (1, 1, None, "g", None, None, None, None),
        (2, 2, 1, "g.1", None, "yes", None, None),
        (3, 2, 1, "g.2", None, None, None, None),
        (4, 3, 3, "g.2.1", None, None, "LA6568-5", None),
        (5, 1, None, "3", None, None, None, False),
    ]
    assert rows(wh, "SELECT count(*) FROM fhir__questionnaire_response") == [(2,)]
