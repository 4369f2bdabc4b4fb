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
        dx=["I50.9", "E11.9", "N18.3", "I10"],
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
    # Transfer chain: h1 -> h2 within 24 h, death at h2.
    p("pt-chain", birth="1945-01-01", deceased="2024-07-14T20:00:00Z")
    bed.stay(
        "s-chain-a",
        "pt-chain",
        "2024-07-10T08:00:00Z",
        "2024-07-12T09:00:00Z",
        disposition="hosp",
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
    bed.stay(
        "s-day0-back",
        "pt-day0",
        "2024-03-04T20:00:00Z",
        "2024-03-06",
        dx=["I50.9"],
        provider="org-h2-med",
        location="loc-h2-bed",
    )
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
    bed.stay("s-rehab", "pt-rehab", "2024-03-01", "2024-03-10", dx=["Z51.89"])
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
    bed.stay(
        "s-comorb",
        "pt-comorb",
        "2024-10-01",
        "2024-10-06",
        dx=["I21.9", "E11.9", "E11.22", "C34.10", "C78.00", "F03.90"],
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
