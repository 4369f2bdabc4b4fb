"""MS-DRG: grouper version by discharge date, signatures, Table 5, the msdrg grouper itself."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from cmo.measures import drg


def test_table5_has_every_fy2026_drg_with_weight_gmlos_and_amlos():
    t5 = drg.table5()
    assert len(t5) == 770
    # Heart failure and shock (CMS FY2026 Table 5): weight, GMLOS, AMLOS.
    assert t5["291"] == ("05", "M", 1.2838, 3.8, 5.0)
    assert t5["293"] == ("05", "M", 0.566, 2.1, 2.5)
    assert t5["470"][1] == "S"
    # The arithmetic mean of a right-skewed LOS is never below its geometric mean.
    assert all(v[4] >= v[3] for v in t5.values())


@pytest.mark.parametrize(
    ("disposition", "status"),
    [("hosp", 50), ("other-hcf", 2), ("exp", 20), ("home", 1), ("nubc:65", 65), ("??", 1)],
)
def test_grouper_discharge_status_reads_the_code_systems(disposition, status):
    # HL7 hosp is Hospice (NUBC 50), never a transfer to a short-term hospital (NUBC 02).
    assert drg.discharge_status(disposition) == status


@pytest.mark.parametrize(
    ("discharge", "version"),
    [
        (date(2022, 5, 1), 401),  # before FY2023: clamped to FY2023 (April release)
        (date(2023, 10, 1), 410),
        (date(2024, 3, 31), 410),
        (date(2024, 4, 1), 411),
        (date(2025, 9, 30), 421),
        (date(2026, 10, 1), 440),
        (date(2030, 1, 1), 440),
    ],
)
def test_grouper_version_python_and_engine_agree(warehouse, discharge, version):
    assert drg.grouper_version(discharge) == version
    stays = ibis.memtable(
        pd.DataFrame(
            {
                "stay_id": ["s"],
                "age": [70],
                "sex": ["male"],
                "discharge_disposition": ["home"],
                "discharge_nubc": [None],
                "principal_dx": ["I509"],
                "discharge_date": [discharge],
            }
        ),
        schema={
            "stay_id": "string",
            "age": "int64",
            "sex": "string",
            "discharge_disposition": "string",
            "discharge_nubc": "string",
            "principal_dx": "string",
            "discharge_date": "date",
        },
    )
    dx = ibis.memtable(
        pd.DataFrame(
            {
                "stay_id": ["s", "s"],
                "code": ["N183", "E119"],
                "is_principal": [False] * 2,
                "poa": ["y", None],
            }
        )
    )
    procs = ibis.memtable(pd.DataFrame({"stay_id": ["s"], "code": ["0SRD0J9"]}))
    out = warehouse.con.execute(drg.input_table(stays, dx, procs))
    sig = out["signature"].iloc[0]
    assert sig == f"{version}|70|male|home|I509|E119:,N183:y|0SRD0J9"
    claim = drg.claim_from_signature(sig)
    assert claim["version"] == version and claim["age"] == 70 and claim["sex"] == 0
    assert claim["sdx"] == [{"code": "E119", "poa": "Y"}, {"code": "N183", "poa": "Y"}]
    assert claim["procedures"] == [{"code": "0SRD0J9"}]


def test_msdrg_groups_heart_failure_by_cc_level():
    frame = drg.group_signatures(
        ["431|65|male|home|I5020||", "431|65|male|home|I5020|E1165:y,N179:y|"]
    )
    assert frame["drg"].tolist() == ["293", "292"]  # without CC/MCC; with CC (N17.9)
    assert frame["gmlos"].tolist() == [2.1, 2.9]
    assert (frame["return_code"] == "OK").all()
