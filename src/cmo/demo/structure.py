"""The health system's fixed structure: hospitals, departments, units, rooms, practitioners.

Three hospitals (a tertiary centre and two community hospitals), each an Organization with
its departments as child Organizations (``partOf``), and Locations site -> unit (ward, ICU,
ED, OR) -> room. About one practitioner per 150 patients (at least 60), each with a
PractitionerRole in one department and a valid NPI (see :mod:`cmo.identifiers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cmo.demo import casemix as cx
from cmo.identifiers import make_npi


@dataclass(frozen=True)
class Unit:
    id: str  # Location id of the unit (physical type "wa")
    key: str  # med | surg | tele | icu | ed | or
    name: str
    role: str  # v3-RoleCode: HU, ICU, ER, OR
    rooms: tuple[str, ...]  # Location ids of its rooms


@dataclass(frozen=True)
class Site:
    index: int
    id: str  # Organization id of the hospital
    key: str
    name: str
    weight: float  # share of the population whose home hospital this is
    departments: tuple[str, ...]
    units: dict[str, Unit]
    location_id: str  # Location id of the site (physical type "si")


@dataclass(frozen=True)
class Practitioner:
    id: str
    npi: str
    family: str
    given: str
    gender: str
    site: int
    department: str


@dataclass
class Structure:
    sites: tuple[Site, ...]
    practitioners: tuple[Practitioner, ...]
    # (site index, department) -> practitioner ids
    staff: dict[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)
    signal_surgeon: str = ""
    signal_los_physician: str = ""

    def department_id(self, site: int, department: str) -> str:
        return f"{self.sites[site].id}-{department}"


_SITE_SPECS = (
    ("h1", "Riverside University Hospital", 0.45, tuple(cx.DEPARTMENTS)),
    (
        "h2",
        "Northgate Community Hospital",
        0.30,
        (
            "medicine",
            "cardiology",
            "neurology",
            "critical-care",
            "surgery",
            "orthopedics",
            "emergency",
            "primary-care",
            "obstetrics",
        ),
    ),
    (
        "h3",
        "Lakeview Regional Hospital",
        0.25,
        ("medicine", "critical-care", "surgery", "orthopedics", "emergency", "primary-care"),
    ),
)
# unit key -> (name, v3-RoleCode, number of rooms); a unit of _UNIT_OF_DEPARTMENT only where
# its department exists.
_UNIT_SPECS = {
    "ed": ("Emergency Department", "ER", 12),
    "icu": ("Intensive Care Unit", "ICU", 10),
    "or": ("Operating Rooms", "OR", 6),
    "med": ("Medical Ward", "HU", 20),
    "surg": ("Surgical Ward", "HU", 16),
    "tele": ("Cardiac Telemetry Unit", "HU", 12),
    "ob": ("Maternity Unit", "HU", 8),
    "psych": ("Behavioral Health Unit", "HU", 8),
    "rehab": ("Inpatient Rehabilitation Unit", "HU", 8),
}
_UNIT_OF_DEPARTMENT = {
    "tele": "cardiology",
    "ob": "obstetrics",
    "psych": "psychiatry",
    "rehab": "rehabilitation",
}
# Department -> the unit where its patients stay outside the ICU.
WARD_OF = {
    "medicine": "med",
    "cardiology": "tele",
    "neurology": "med",
    "critical-care": "icu",
    "surgery": "surg",
    "orthopedics": "surg",
    "cardiac-surgery": "surg",
    "emergency": "ed",
    "primary-care": "med",
    "obstetrics": "ob",
    "psychiatry": "psych",
    "rehabilitation": "rehab",
}
# Relative number of physicians per department (before the site's weight).
_STAFF_WEIGHT = {
    "medicine": 10.0,
    "cardiology": 4.0,
    "neurology": 2.0,
    "critical-care": 3.0,
    "surgery": 3.0,
    "orthopedics": 3.0,
    "cardiac-surgery": 1.5,
    "emergency": 6.0,
    "primary-care": 10.0,
    "obstetrics": 2.0,
    "psychiatry": 1.5,
    "rehabilitation": 1.0,
}
MIN_PRACTITIONERS = 60
PATIENTS_PER_PRACTITIONER = 150


def _site(index: int, key: str, name: str, weight: float, departments: tuple[str, ...]) -> Site:
    org_id = f"org-{key}"
    units: dict[str, Unit] = {}
    for ukey, (uname, role, n_rooms) in _UNIT_SPECS.items():
        if _UNIT_OF_DEPARTMENT.get(ukey, departments[0]) not in departments:
            continue
        unit_id = f"loc-{key}-{ukey}"
        rooms = tuple(f"{unit_id}-r{r:02d}" for r in range(1, n_rooms + 1))
        short = name.split()[0]
        units[ukey] = Unit(unit_id, ukey, f"{short} {uname}", role, rooms)
    return Site(index, org_id, key, name, weight, departments, units, f"loc-{key}")


def build_structure(patients: int, seed: int) -> Structure:
    """The structure for a population size; deterministic in (patients, seed)."""
    sites = tuple(_site(i, *spec) for i, spec in enumerate(_SITE_SPECS))
    n_total = max(MIN_PRACTITIONERS, math.ceil(patients / PATIENTS_PER_PRACTITIONER))
    cells = [(s.index, d) for s in sites for d in s.departments]
    weights = np.array([sites[s].weight * _STAFF_WEIGHT[d] for s, d in cells])
    counts = np.maximum(2, np.round(n_total * weights / weights.sum())).astype(int)
    # The planted signals need peers: >= 4 orthopaedic surgeons at h1, >= 4 hospitalists at h3.
    for k, (s, d) in enumerate(cells):
        if (s, d) in ((0, "orthopedics"), (2, "medicine")):
            counts[k] = max(counts[k], 4)
    rng = np.random.default_rng([seed, 1])
    n = int(counts.sum())
    bases = rng.choice(100_000_000, size=n, replace=False) + 100_000_000
    genders = rng.random(n) < 0.45
    name_idx = rng.integers(0, 1 << 30, size=(n, 2))
    practitioners: list[Practitioner] = []
    staff: dict[tuple[int, str], tuple[str, ...]] = {}
    j = 0
    for (s, d), c in zip(cells, counts, strict=True):
        ids = []
        for _ in range(int(c)):
            female = bool(genders[j])
            given = cx.GIVEN_F if female else cx.GIVEN_M
            pid = f"pr{j + 1:05d}"
            practitioners.append(
                Practitioner(
                    pid,
                    make_npi(int(bases[j])),
                    cx.FAMILY[int(name_idx[j, 0]) % len(cx.FAMILY)],
                    given[int(name_idx[j, 1]) % len(given)],
                    "female" if female else "male",
                    s,
                    d,
                )
            )
            ids.append(pid)
            j += 1
        staff[(s, d)] = tuple(ids)
    return Structure(
        sites,
        tuple(practitioners),
        staff,
        signal_surgeon=staff[(0, "orthopedics")][0],
        signal_los_physician=staff[(2, "medicine")][0],
    )
