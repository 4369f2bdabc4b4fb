"""The schema declarations: paths, column names, and the data-model contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmo.fhir.schema import RESOURCES, Col, Resource, all_tables, build_tree, parse_path

DATA_MODEL = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_paths_parse_and_bad_paths_are_rejected() -> None:
    steps = parse_path("identifier[system=http://hl7.org/fhir/sid/us-npi].value")
    assert [s.field for s in steps] == ["identifier", None, "value"]
    assert steps[1].where == ("system", "http://hl7.org/fhir/sid/us-npi")
    assert parse_path("category[0]")[1].first
    for bad in ("", "[0]", "a..b[", "a[1]", "a b"):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_conflicting_element_types_are_caught() -> None:
    res = Resource("Patient", "patient", (Col("a", "str", "gender"), Col("b", "cc", "gender")))
    with pytest.raises(ValueError, match="conflicting"):
        build_tree(res)


def test_column_names_are_unique_snake_case() -> None:
    for table, cols in all_tables().items():
        names = [c for c, _ in cols]
        assert len(names) == len(set(names)), table
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names), table


def _contract() -> dict[str, set[str]]:
    """The minimum columns docs/data-model.md promises the measures (its table)."""
    out: dict[str, set[str]] = {}
    for line in DATA_MODEL.read_text().splitlines():
        m = re.match(r"\| (fhir__\w+) \| (.+) \|$", line)
        if not m:
            continue
        cols: set[str] = set()
        for item in m.group(2).split(", "):
            item = item.split(" (")[0].strip().rstrip(" …")
            base, *alts = item.split("/")
            if not re.fullmatch(r"[a-z_]+", base):
                continue
            cols.add(base)
            stem = base.rsplit("_", 1)[0]
            cols.update(stem + a for a in alts if a.startswith("_"))
        out[m.group(1)] = cols
    return out


def test_every_contract_column_exists() -> None:
    tables = {f"fhir__{t}": {c for c, _ in cols} for t, cols in all_tables().items()}
    contract = _contract()
    assert len(contract) >= 14
    for table, cols in contract.items():
        assert table in tables, table
        assert cols <= tables[table], (table, cols - tables[table])


def test_every_resource_has_its_table() -> None:
    assert len({r.resource_type for r in RESOURCES}) == len(RESOURCES)
    assert {"patient", "encounter", "claim_diagnosis", "questionnaire_response_item",
            "device_use", "coverage", "explanation_of_benefit"} <= set(all_tables())  # fmt: skip


def test_data_model_doc_lists_every_table_and_column() -> None:
    from cmo.fhir.schema import tables_markdown

    doc = DATA_MODEL.read_text()
    assert tables_markdown() in doc, (
        "docs/data-model.md is out of date with src/cmo/fhir/schema.py: paste the output of "
        "tables_markdown() (see its docstring) into the 'Every fhir table and column' section"
    )
