"""Reproduce the published comorbidity and LACE reference cases (../shared/reference)."""

from __future__ import annotations

import csv
import json

import pytest

from cmo import terminology


def _csv(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("index", "key"),
    [("charlson", "charlson_icd10_quan"), ("elixhauser", "elixhauser_icd10_quan")],
)
def test_quan_2005_maps_equal_the_r_package_maps(reference_dir, index, key):
    """Our maps are written from Quan 2005; the R package comorbidity's are the oracle."""
    ref = json.loads(
        (reference_dir / "comorbidity" / "comorbidity_R_maps_weights.json").read_text()
    )
    ours: dict[str, set[str]] = {}
    for category, prefix in terminology.comorbidity_map(index):
        ours.setdefault(category, set()).add(prefix)
    theirs = {cat: set(codes) for cat, codes in ref["maps"][key].items()}
    assert ours == theirs


@pytest.mark.parametrize(
    ("scheme", "key", "weights"),
    [
        ("charlson1987", "charlson_icd10_quan", "charlson"),
        ("quan2011", "charlson_icd10_quan", "quan"),
        ("van_walraven2009", "elixhauser_icd10_quan", "vw"),
    ],
)
def test_weights_equal_the_r_package_weights(reference_dir, scheme, key, weights):
    ref = json.loads(
        (reference_dir / "comorbidity" / "comorbidity_R_maps_weights.json").read_text()
    )
    assert terminology.weights(scheme) == ref["weights"][key][weights]


def _one_code_per_category(index: str) -> list[str]:
    first: dict[str, str] = {}
    for category, prefix in terminology.comorbidity_map(index):
        first.setdefault(category, prefix)
    return list(first.values())


def test_derived_maximum_charlson_scores(reference_dir):
    """All 17 categories present: 29 with 1987 weights, 24 with Quan 2011 (AIDS/HIV = 4)."""
    cases = {
        r["case_id"]: r
        for r in _csv(reference_dir / "comorbidity" / "charlson_elixhauser_derived_cases.csv")
    }
    codes = _one_code_per_category("charlson")
    assert len(codes) == 17
    assert terminology.score(codes, "charlson", "charlson1987") == float(
        cases["max_charlson_orig"]["expected_score"]
    )
    assert terminology.score(codes, "charlson", "quan2011") == float(
        cases["max_charlson_quan2011"]["expected_score"]
    )


def test_shmi_cases_hit_the_published_categories(reference_dir):
    """comorbidipy's SHMI cases: the categories (after hierarchy) its expected scores imply.

    SHMI weights are not implemented (not a cmo scheme); the flags behind them are checked.
    """
    rows = {
        r["case_id"]: r for r in _csv(reference_dir / "comorbidity" / "comorbidipy_shmi_cases.csv")
    }
    expected = {
        "shmi1": {"aids", "diabwc", "rend"},
        "shmi2": {"msld", "cpd", "canc"},
        "shmi3": {"metacanc", "pud", "hp", "rheumd"},
    }
    for case_id, cats in expected.items():
        hit = terminology.flags(rows[case_id]["codes"].split("|"), "charlson")
        assert {c for c, on in hit.items() if on} == cats


def test_lace_cases(reference_dir):
    for r in _csv(reference_dir / "readmission_scores" / "lace_cases.csv"):
        got = terminology.lace_points(
            int(r["los_days"]),
            r["acute_emergent_admission"] == "1",
            float(r["charlson_score"]),
            int(r["ed_visits_prev_6mo"]),
        )
        want = tuple(
            int(r[k])
            for k in ("expected_L", "expected_A", "expected_C", "expected_E", "expected_LACE")
        )
        assert got == want, r["provenance"]


def test_lace_engine_expression_matches_reference(reference_dir, warehouse):
    """The same cases through the Ibis expression the build uses, on DuckDB."""
    import ibis
    import pandas as pd

    from cmo.measures.library.lace import lace_points

    frame = pd.DataFrame(_csv(reference_dir / "readmission_scores" / "lace_cases.csv"))
    t = ibis.memtable(
        frame.astype(
            {
                "los_days": int,
                "acute_emergent_admission": int,
                "charlson_score": float,
                "ed_visits_prev_6mo": int,
                "expected_LACE": int,
            }
        )
    )
    expr = t.select(
        want=t.expected_LACE,
        got=lace_points(
            t.los_days, t.acute_emergent_admission == 1, t.charlson_score, t.ed_visits_prev_6mo
        ),
    )
    out = warehouse.con.execute(expr)
    assert len(out) == len(frame)
    assert (out["got"] == out["want"]).all()


def test_range_expansion_and_value_sets():
    assert terminology.expand("I42.5-I42.9") == ["I425", "I426", "I427", "I428", "I429"]
    assert terminology.expand("C00-C02") == ["C00", "C01", "C02"]
    assert "T81" in terminology.value_set("complication_dx")
    with pytest.raises(KeyError):
        terminology.value_set("nope")


def test_planned_readmission_tables_follow_the_published_categories():
    pra = terminology.pra_codes
    # PR2 always-planned diagnoses: maintenance chemotherapy / radiotherapy (CCS 45).
    assert {"Z510", "Z5111", "Z5112"} <= pra("PR2_always_planned_dx")
    # PR1 always-planned procedures: kidney transplant (CCS 105), bone marrow transplant (64).
    assert {"0TY00Z0", "0TY10Z0"} <= pra("PR1_always_planned_pcs")
    # PR3 potentially planned: hip/knee arthroplasty (CCS 152/153), PTCA (45).
    assert {"0SRD0J9", "0SR90J9", "02703DZ"} <= pra("PR3_potentially_planned_pcs")
    # PR4 acute: AMI (CCS 100), pneumonia (122); chronic heart disease is not acute.
    assert {"I214", "J189"} <= pra("PR4_acute_dx") and "I10" not in pra("PR4_acute_dx")
    # HWR exclusions: psychiatric (CCS 657 mood disorders), not dementia (CCS 653).
    assert "F329" in pra("HWR_excl_psych") and "F0390" not in pra("HWR_excl_psych")
    assert "C3490" in pra("HWR_excl_cancer")
    with pytest.raises(KeyError):
        pra("nope")


@pytest.mark.parametrize(
    ("system", "code", "category"),
    [
        ("hl7", "hosp", "hospice"),  # HL7: Hospice, never a transfer
        ("hl7", "other-hcf", "acute_transfer"),
        ("hl7", "exp", "expired"),
        ("nubc", "02", "acute_transfer"),  # short-term general hospital
        ("nubc", "05", "acute_transfer"),  # designated cancer centre or children's hospital
        ("nubc", "66", "acute_transfer"),  # critical access hospital
        ("nubc", "65", "psych"),  # psychiatric hospital: not an acute medical transfer
        ("nubc", "50", "hospice"),
        ("nubc", "51", "hospice"),
        ("nubc", "20", "expired"),
        ("nubc", "62", "rehab"),
        ("nubc", "99", "unknown"),
    ],
)
def test_disposition_categories_follow_each_code_definition(system, code, category):
    assert terminology.disposition_category(system, code) == category


def test_hierarchy_drops_the_milder_form():
    hit = terminology.flags(["E11.9", "E11.22", "K70.30", "K72.10"], "charlson")
    assert hit["diabwc"] and not hit["diab"]
    assert hit["msld"] and not hit["mld"]
