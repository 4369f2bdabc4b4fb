"""The shared test-bed scenario: one patient (or a few stays) per rule, built once per session.

Every ``given`` of the rule tests is written here, next to the stay ids the tests assert on.
The data end is 2024-12-31 (an ED visit ending then).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .testbed import TestBed

DATA_END = "2024-12-31"


def scenario() -> TestBed:
    bed = TestBed()
    p = bed.patient
    # Sets the data end.
    p("pt-end", birth="1960-01-01")
    bed.ed_visit("ed-end", "pt-end", DATA_END)

    # -- inclusion / attribution ------------------------------------------------------------
    # An adult discharged home; two attendings (pr-b is the later one); bed under a ward.
    p("pt-basic", birth="1950-06-15", gender="male")
    bed.stay(
        "s-basic",
        "pt-basic",
        "2024-03-01T08:00:00Z",
        "2024-03-05T15:00:00Z",
        attending=[("pr-a", "2024-03-01"), ("pr-b", "2024-03-03")],
        dx=["I50.9", "E11.9", "N18.30", "I10"],
    )
    # A child.
    p("pt-child", birth="2015-01-01")
    bed.stay("s-child", "pt-child", "2024-02-01", "2024-02-03", dx=["J18.9"])
    # Not inpatient or not finished: no stay at all.
    p("pt-noise")
    bed.stay("s-amb", "pt-noise", "2024-02-01", "2024-02-01", cls="AMB", dx=["J18.9"])
    bed.stay("s-open", "pt-noise", "2024-02-10", None, status="in-progress", dx=["J18.9"])
    bed.stay("s-cancel", "pt-noise", "2024-02-12", "2024-02-13", status="cancelled")
    # serviceProvider is the hospital itself: department = serviceType.
    p("pt-root")
    bed.stay(
        "s-root",
        "pt-root",
        "2024-04-01",
        "2024-04-03",
        provider="org-h2",
        service_type="cardiology",
        location="loc-h2-bed",
        dx=["I48.91"],
    )
    # Principal diagnosis fallbacks: billing use; Claim sequence 1.
    p("pt-billing")
    bed.stay("s-billing", "pt-billing", "2024-05-01", "2024-05-04", dx=["K35.80"], dx_use="billing")
    p("pt-claim")
    bed.stay(
        "s-claim",
        "pt-claim",
        "2024-05-01",
        "2024-05-04",
        claim_dx=[("N39.0", "y"), ("E87.1", "y"), ("I50.9", "n")],
    )

    # -- mortality --------------------------------------------------------------------------
    p("pt-exp", birth="1940-01-01")
    bed.stay("s-exp", "pt-exp", "2024-06-01", "2024-06-04", disposition="exp", dx=["A41.9"])
    # Death time inside the stay, disposition not coded as expired.
    p("pt-deathtime", birth="1940-01-01", deceased="2024-06-10T03:00:00Z")
    bed.stay(
        "s-deathtime",
        "pt-deathtime",
        "2024-06-08",
        "2024-06-10T05:00:00Z",
        disposition="oth",
        dx=["J96.00"],
    )
    p("pt-transin", birth="1940-01-01")
    bed.stay(
        "s-transin",
        "pt-transin",
        "2024-06-01",
        "2024-06-05",
        admit_source="hosp-trans",
        dx=["I21.4"],
    )
    # Transfer chain: h1 -> h2 within 24 h (HL7 other-hcf, NUBC 02), death at h2.
    p("pt-chain", birth="1945-01-01", deceased="2024-07-14T20:00:00Z")
    bed.stay(
        "s-chain-a",
        "pt-chain",
        "2024-07-10T08:00:00Z",
        "2024-07-12T09:00:00Z",
        disposition="other-hcf",
        nubc="02",
        dx=["I21.4"],
    )
    bed.stay(
        "s-chain-b",
        "pt-chain",
        "2024-07-12T13:00:00Z",
        "2024-07-14T20:00:00Z",
        provider="org-h2-med",
        location="loc-h2-bed",
        admit_source="hosp-trans",
        disposition="exp",
        dx=["I21.4"],
        attending="pr-b",
    )
    # Discharged "home" yet admitted at the other site 6 h later: a transfer all the same (CMS:
    # an admission to another acute hospital on the same or next day).
    p("pt-quick", birth="1945-01-01")
    bed.stay("s-quick-a", "pt-quick", "2024-07-01", "2024-07-03T08:00:00Z", dx=["I63.9"])
    bed.stay(
        "s-quick-b",
        "pt-quick",
        "2024-07-03T14:00:00Z",
        "2024-07-08",
        provider="org-h2-med",
        location="loc-h2-bed",
        dx=["I63.9"],
    )
    # Hospice (HL7 hosp = Hospice, NUBC 50): not a transfer; the later stay follows hospice.
    p("pt-hospice", birth="1940-01-01")
    bed.stay(
        "s-hospice-1",
        "pt-hospice",
        "2024-02-01",
        "2024-02-05",
        disposition="hosp",
        nubc="50",
        dx=["C34.90", "C78.00"],
        procedures=["0BTC4ZZ"],
    )
    bed.stay("s-hospice-2", "pt-hospice", "2024-04-01", "2024-04-05", dx=["J18.9"])
    # HL7 other-hcf refined by NUBC 65 (psychiatric hospital): not an acute transfer.
    p("pt-psyhosp", birth="1960-01-01")
    bed.stay(
        "s-psyhosp",
        "pt-psyhosp",
        "2024-03-01",
        "2024-03-04",
        disposition="other-hcf",
        nubc="65",
        dx=["I50.9"],
    )
    # Vital status. Discharged home but a death date inside the stay: a conflict.
    p("pt-alive-dead", birth="1940-01-01", deceased="2024-06-03")
    bed.stay("s-alive-dead", "pt-alive-dead", "2024-06-01", "2024-06-06", dx=["J18.9"])
    # Discharged home and died at home the same day: not an in-hospital death.
    p("pt-home-died", birth="1940-01-01", deceased="2024-06-06T22:00:00Z")
    bed.stay("s-home-died", "pt-home-died", "2024-06-01", "2024-06-06T11:00:00Z", dx=["J18.9"])
    # Coded expired, with a death date ten days after discharge: a conflict.
    p("pt-exp-late", birth="1940-01-01", deceased="2024-06-16")
    bed.stay(
        "s-exp-late", "pt-exp-late", "2024-06-01", "2024-06-06", disposition="exp", dx=["J18.9"]
    )
    # MORT30: two eligible stays in one year, one is drawn.
    p("pt-twice", birth="1940-01-01")
    bed.stay("s-twice-1", "pt-twice", "2024-02-01", "2024-02-04", dx=["J44.1"])
    bed.stay("s-twice-2", "pt-twice", "2024-09-01", "2024-09-04", dx=["J44.1"])
    # IMORT: an obstetric stay (MS-DRG in MDC 14).
    p("pt-obst", birth="1995-01-01")
    bed.stay(
        "s-obst",
        "pt-obst",
        "2024-05-01",
        "2024-05-03",
        dx=["O80", "Z37.0"],
        procedures=["10E0XZZ"],
    )
    # A non-acute (NONAC) stay: no IMORT/MORT30/READM30 index, and no readmission.
    p("pt-nonac", birth="1950-01-01")
    bed.stay("s-nonac-index", "pt-nonac", "2024-03-01", "2024-03-04", dx=["I63.9"])
    bed.stay(
        "s-nonac-back",
        "pt-nonac",
        "2024-03-10",
        "2024-03-30",
        cls="NONAC",
        priority="EL",
        admit_source="mp",
        dx=["Z46.89", "I69.351"],
        provider="org-h2-med",
        location="loc-h2-bed",
    )
    # Attribution: the surgeon performs the principal procedure; the attending is pr-a.
    p("pt-surg", birth="1950-01-01")
    bed.stay(
        "s-surg",
        "pt-surg",
        "2024-05-01",
        "2024-05-04",
        priority="EL",
        admit_source="mp",
        dx=["M17.11"],
        procedures=["0SRD0J9"],
        surgeon="pr-b",
    )

    # Data quality: no attending; a category header (I50, not billable) and a malformed
    # procedure code.
    p("pt-dq", birth="1950-01-01")
    bed.stay(
        "s-dq",
        "pt-dq",
        "2024-04-01",
        "2024-04-03",
        attending=[],
        dx=["J18.9", "I50"],
        procedures=["XYZ"],
    )

    # Died 10 days after discharge (admitted 2024-08-01): MORT30 yes, IMORT no.
    p("pt-late-death", birth="1940-01-01", deceased="2024-08-15")
    bed.stay("s-late-death", "pt-late-death", "2024-08-01", "2024-08-05", dx=["J44.1"])
    # Died on day 31 after admission: not a 30-day death.
    p("pt-day31", birth="1940-01-01", deceased="2024-09-01")
    bed.stay("s-day31", "pt-day31", "2024-08-01", "2024-08-03", dx=["J44.1"])
    # Admitted less than 30 days before the data end.
    p("pt-recent", birth="1940-01-01")
    bed.stay("s-recent", "pt-recent", "2024-12-10", "2024-12-12", dx=["J44.1"])

    # -- readmission ------------------------------------------------------------------------
    p("pt-readm")
    bed.stay("s-readm-index", "pt-readm", "2024-04-01", "2024-04-05", dx=["I50.9"])
    bed.stay("s-readm-back", "pt-readm", "2024-04-20", "2024-04-23", dx=["J18.9"])
    # Same-day return (day 0) and day-31 return do not count.
    p("pt-day0")
    bed.stay("s-day0-index", "pt-day0", "2024-03-01", "2024-03-04T09:00:00Z", dx=["I50.9"])
    bed.stay("s-day0-back", "pt-day0", "2024-03-04T20:00:00Z", "2024-03-06", dx=["I50.9"])
    p("pt-day31r")
    bed.stay("s-day31-index", "pt-day31r", "2024-03-01", "2024-03-04", dx=["I50.9"])
    bed.stay("s-day31-back", "pt-day31r", "2024-04-04", "2024-04-06", dx=["I50.9"])
    # Planned: chemotherapy principal; elective knee replacement with a non-acute principal.
    p("pt-chemo")
    bed.stay("s-chemo-index", "pt-chemo", "2024-03-01", "2024-03-03", dx=["I50.9"])
    bed.stay(
        "s-chemo-back",
        "pt-chemo",
        "2024-03-10",
        "2024-03-11",
        dx=["Z51.11", "C50.911"],
        priority="EL",
        admit_source="outp",
    )
    p("pt-knee")
    bed.stay("s-knee-index", "pt-knee", "2024-03-01", "2024-03-03", dx=["I50.9"])
    bed.stay(
        "s-knee-back",
        "pt-knee",
        "2024-03-15",
        "2024-03-17",
        dx=["M17.11"],
        priority="EL",
        admit_source="outp",
        procedures=["0SRD0J9"],
    )
    # The same procedure as an emergency: still planned (the PRA has no priority test).
    p("pt-knee-em")
    bed.stay("s-knee-em-index", "pt-knee-em", "2024-03-01", "2024-03-03", dx=["I50.9"])
    bed.stay(
        "s-knee-em-back",
        "pt-knee-em",
        "2024-03-15",
        "2024-03-17",
        dx=["M17.11"],
        priority="EM",
        procedures=["0SRD0J9"],
    )
    # An always-planned procedure (kidney transplant, PR1) with an acute principal: planned.
    p("pt-kidney")
    bed.stay("s-kidney-index", "pt-kidney", "2024-03-01", "2024-03-03", dx=["I50.9"])
    bed.stay(
        "s-kidney-back",
        "pt-kidney",
        "2024-03-15",
        "2024-03-25",
        dx=["N17.9"],
        procedures=["0TY00Z0"],
    )
    # Elective with a potentially planned procedure but an acute principal: unplanned.
    p("pt-acute")
    bed.stay("s-acute-index", "pt-acute", "2024-03-01", "2024-03-03", dx=["I50.9"])
    bed.stay(
        "s-acute-back",
        "pt-acute",
        "2024-03-15",
        "2024-03-17",
        dx=["I21.4"],
        priority="EL",
        admit_source="outp",
        procedures=["02703DZ"],
    )
    # Index exclusions.
    p("pt-ama")
    bed.stay("s-ama", "pt-ama", "2024-03-01", "2024-03-03", disposition="aadvice", dx=["I50.9"])
    p("pt-psych")
    bed.stay("s-psych", "pt-psych", "2024-03-01", "2024-03-05", dx=["F32.9"])
    p("pt-cancer")
    bed.stay("s-cancer-med", "pt-cancer", "2024-03-01", "2024-03-05", dx=["C34.90"])
    bed.stay(
        "s-cancer-surg",
        "pt-cancer",
        "2024-05-01",
        "2024-05-05",
        dx=["C34.90"],
        procedures=["0BTC4ZZ"],
    )
    p("pt-rehab")
    bed.stay("s-rehab", "pt-rehab", "2024-03-01", "2024-03-10", dx=["Z46.89"])
    # A readmission counts once, against the latest eligible index before it.
    p("pt-latest")
    bed.stay("s-latest-1", "pt-latest", "2024-05-01", "2024-05-03", dx=["I50.9"])
    bed.stay(
        "s-latest-2",
        "pt-latest",
        "2024-05-10",
        "2024-05-12",
        dx=["M17.11"],
        priority="EL",
        admit_source="outp",
        procedures=["0SRD0J9"],
    )
    bed.stay("s-latest-3", "pt-latest", "2024-05-20", "2024-05-22", dx=["J18.9"])

    # -- unit exposure (ICU mortality) --------------------------------------------------------
    # An ICU survivor stepped down to the ward, and a death in the ICU: both count at the ICU
    # (its denominator is every stay with ICU time); the survivor also counts at the ward.
    p("pt-icu-live", birth="1950-01-01")
    bed.stay(
        "s-icu-live",
        "pt-icu-live",
        "2024-09-02T08:00:00Z",
        "2024-09-09T12:00:00Z",
        location=[
            ("loc-h1-icu-room", "2024-09-02T08:00:00Z", "2024-09-05T10:00:00Z"),
            ("loc-h1-bed", "2024-09-05T10:00:00Z", "2024-09-09T12:00:00Z"),
        ],
        dx=["A41.9"],
    )
    p("pt-icu-dead", birth="1950-01-01")
    bed.stay(
        "s-icu-dead",
        "pt-icu-dead",
        "2024-09-03T08:00:00Z",
        "2024-09-06T12:00:00Z",
        disposition="exp",
        location=[("loc-h1-icu-room", "2024-09-03T08:00:00Z", "2024-09-06T12:00:00Z")],
        dx=["A41.9"],
    )

    # -- comorbidity, LACE ------------------------------------------------------------------
    # Secondary: E11.22 (diabetes with complication) beats E11.9; C78.0 beats C34.1; I21.9 is
    # the principal so MI does not count.
    p("pt-comorb")
    comorb = ["I21.9", "E11.9", "E11.22", "C34.10", "C78.00", "F03.90"]
    bed.stay(
        "s-comorb",
        "pt-comorb",
        "2024-10-01",
        "2024-10-06",
        dx=comorb,
        claim_dx=[(code, "y") for code in comorb],
    )
    # POA: W counts, U does not; a complication-list code (T82.1) never counts.
    p("pt-poa")
    bed.stay(
        "s-poa",
        "pt-poa",
        "2024-10-01",
        "2024-10-04",
        claim_dx=[("J18.9", "y"), ("I10", "w"), ("E11.9", "u"), ("T82.110A", "y")],
    )
    # No POA indicator: a code also coded in the 12 months before counts (E11.9), one seen
    # for the first time does not (I10).
    p("pt-prior")
    # K21.9 (GERD) is in no comorbidity category: the lookback leaves it out.
    bed.stay("s-prior-1", "pt-prior", "2024-01-10", "2024-01-12", dx=["J18.9", "E11.9", "K21.9"])
    bed.stay(
        "s-prior-2", "pt-prior", "2024-05-01", "2024-05-03", dx=["J44.1", "E11.9", "I10", "K21.9"]
    )
    bed.ed_visit("ed-1", "pt-comorb", "2024-06-01")
    bed.ed_visit("ed-2", "pt-comorb", "2024-09-15")
    bed.ed_visit("ed-old", "pt-comorb", "2024-01-15")  # more than 6 months before
    return bed


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The scenario ingested and built on a DuckDB warehouse (once per session)."""
    from cmo.warehouse import connect

    root: Path = tmp_path_factory.mktemp("bed")
    wh = connect(root / "warehouse.duckdb")
    result = scenario().build(wh, root / "fhir")
    wh.result = result  # type: ignore[attr-defined]
    yield wh
    wh.close()
