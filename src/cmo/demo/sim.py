"""Per-patient simulation: one patient's life in the health system, written as FHIR resources.

Each patient has an independent random stream derived from (seed, patient index), so the
output of a patient does not depend on which process or chunk generated it. Resources are
serialised with orjson as soon as they are built; a chunk returns bytes per resource type.
The coefficients are documented in docs/demo-data.md (section "Generating model").
"""

from __future__ import annotations

import bisect
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources as importlib_resources
from statistics import NormalDist
from typing import Any

import orjson

from cmo.demo import casemix as cx
from cmo.demo.resources import cc, coding, ref
from cmo.demo.structure import WARD_OF, Structure, build_structure

DAY = 1440  # minutes
_DAY_MARGIN = 366  # days before/after the window with precomputed date strings
TZ = "-05:00"  # the health system's local offset (US Eastern standard time)

# -- population ------------------------------------------------------------------------------
# Adult users of the system (18+; no paediatrics): age bands and shares.
AGE_BANDS = ((18, 45, 0.40), (45, 65, 0.32), (65, 75, 0.15), (75, 85, 0.09), (85, 100, 0.04))
FEMALE_SHARE = 0.52
HOME_SITE_SHARE = 0.85  # stays at the patient's home hospital; the rest at another site
TRANSFER_TO = 0  # transfers out go to the tertiary centre (Riverside)
REHAB_SITE = 0  # the system's inpatient rehabilitation unit (Riverside)
OWN_REHAB_SHARE = 0.5  # discharges to rehabilitation admitted to the system's own unit

# -- stay model coefficients (log-odds or log scale; age per decade from 70, burden from 2) ---
ADMISSION_BASE = 0.10  # index admissions per person-year at age 40, burden 0
ADMISSION_AGE = 0.030  # log rate per year of age
ADMISSION_BURDEN = 0.12  # log rate per burden point
ED_RATE = 0.25  # treat-and-release ED visits per person-year (x exp(0.10 B))
OUTPATIENT_RATE = 0.8  # outpatient visits per person-year (x exp(0.10 B))
MORT_AGE, MORT_BURDEN, MORT_SEVERITY = 0.45, 0.15, 0.90
READM_AGE, READM_BURDEN, READM_SEVERITY = 0.05, 0.10, 0.25
POST30_AGE, POST30_BURDEN, POST30_SEVERITY = 0.50, 0.15, 0.50
LOS_AGE, LOS_BURDEN, LOS_SEVERITY, LOS_SIGMA = 0.04, 0.04, 0.25, 0.55
# Acute secondary diagnoses: case-specific ones, then any MCC / CC (log-odds: intercept, z).
SECONDARY_INTERCEPT, SECONDARY_SEVERITY = -0.85, 0.8
MCC_COEF = (0.0, 1.1)
CC_COEF = (0.3, 0.8)
# Calibration: shifts applied to every case type so the crude system rates of a 20k run land
# in the published ranges (the case table holds condition-level published figures; averaging
# over severity z and the age/burden mix moves the crude rates away from them).
MORT_INTERCEPT = -0.70  # log-odds
POST30_INTERCEPT = -0.60  # log-odds
READM_INTERCEPT = -0.08  # log-odds
LOS_SCALE = 1.15
COMP_AGE, COMP_BURDEN, COMP_SEVERITY = 0.20, 0.10, 0.30
CLABSI_HAZARD = 0.0015  # per central-line day from line day 3 (NHSN ~1/1,000)
CAUTI_HAZARD = 0.0012  # per catheter day from catheter day 3
FALL_RATE = 0.0006  # falls with injury per patient day at age 70 (AHRQ HAC scorecard)
PRESSURE_RATE = 0.0004  # stage 3-4 pressure injuries per patient day (x4 in the ICU)

# -- planted signals -------------------------------------------------------------------------
ICU_SIGNAL_SITE = 1  # Northgate: ICU mortality odds ramp over the last 6 months
ICU_SIGNAL_MONTHS = 6
ICU_SIGNAL_MAX_OR = 6.0
SURGEON_COMPLICATION_RR = 3.5  # risk ratios (probability x RR)
SURGEON_VOLUME = 2.0  # the planted surgeon operates twice as often as each peer
SURGEON_READMISSION_RR = 4.0
CLABSI_SIGNAL_SITE = 0  # Riverside ICU, one quarter
CLABSI_SIGNAL_HAZARD = 0.04
LOS_SIGNAL_FACTOR = 1.4

_DISPLAYS: dict[str, str] = json.loads(
    importlib_resources.files("cmo.demo").joinpath("icd10cm_display.json").read_text()
)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


@dataclass
class Context:
    """Everything shared by the patients of one run (built once per process)."""

    patients: int
    seed: int
    start: date
    months: int
    structure: Structure = field(init=False)
    t0: datetime = field(init=False)
    horizon: int = field(init=False)  # minutes from start to the end of the window
    month_starts: list[int] = field(init=False)
    clabsi_quarter: int = field(init=False)  # first month index of the cluster quarter
    icd: dict[str, Resource] = field(init=False)

    def __post_init__(self) -> None:
        self.structure = build_structure(self.patients, self.seed)
        self.t0 = datetime(self.start.year, self.start.month, self.start.day)
        starts = [add_months(self.start, k) for k in range(self.months + 1)]
        self.month_starts = [(d - self.start).days * DAY for d in starts]
        self.horizon = self.month_starts[-1]
        # The cluster quarter: two full quarters before the last one, or the first quarter.
        self.clabsi_quarter = max(0, 3 * ((self.months - 1) // 3) - 6)
        self.icd = {code: cc(cx.ICD10CM, code, disp) for code, disp in _DISPLAYS.items()}
        # Timestamps are the hottest path: precomputed day and time-of-day strings (the window
        # plus a year either side) instead of datetime arithmetic and isoformat per call.
        self._days = [
            (self.start + timedelta(days=d)).isoformat()
            for d in range(-_DAY_MARGIN, self.horizon // DAY + _DAY_MARGIN)
        ]
        self._clock = [f"T{m // 60:02d}:{m % 60:02d}:00{TZ}" for m in range(DAY)]

    # -- time helpers ----------------------------------------------------------------------
    def ts(self, minute: int) -> str:
        d, m = divmod(minute, DAY)
        if -_DAY_MARGIN <= d < len(self._days) - _DAY_MARGIN:
            return self._days[d + _DAY_MARGIN] + self._clock[m]
        return (self.t0 + timedelta(minutes=minute)).isoformat() + TZ

    def day(self, minute: int) -> str:
        return (self.t0 + timedelta(minutes=minute)).date().isoformat()

    def instant(self, minute: int) -> str:
        """meta.lastUpdated: midnight UTC after the event (derived from the data)."""
        return (self.t0 + timedelta(minutes=minute + DAY)).date().isoformat() + "T00:00:00Z"

    def month(self, minute: int) -> int:
        return bisect.bisect_right(self.month_starts, minute) - 1

    def end_date(self) -> date:
        return add_months(self.start, self.months)


Resource = dict[str, Any]

_CASE_KEYS = [c.key for c in cx.CASE_TYPES]
_EMERGENCY_CASES = [c for c in cx.CASE_TYPES if c.elective == 0.0]
_CHRONIC = {code for c in cx.COMORBIDITIES for code in c.codes}
_ICU_THRESHOLD = {
    c.key: NormalDist().inv_cdf(1 - c.icu) if 0 < c.icu < 1 else 0.0 for c in cx.CASE_TYPES
}
_NOT_POA = {"n"}


@dataclass
class Stay:
    """What the stay model decided; turned into resources by ``PatientSim.emit_stay``."""

    id: str
    case: cx.CaseType
    site: int
    department: str
    admit: int
    discharge: int
    priority: str  # EM | UR | EL
    admit_source: str
    attending: str
    admitting: str
    disposition: str
    icu_days: int
    principal: str
    secondary: list[tuple[str, str, int]]  # (code, POA flag, onset minute)
    procedures: list[tuple[str, str, int]]  # (code, display, minute)
    devices: list[tuple[str, int, int, str]]  # (kind, start, end, procedure code)
    died: bool
    payer: str
    late_complication: str | None = None  # readmission principal for a late complication
    z: float = 0.0  # latent severity
    surgeon_signal: bool = False
    complicated: bool = False
    origin: str | None = None  # sending hospital (Organization id) of a transfer in
    destination: str | None = None  # receiving hospital of a transfer out


@dataclass
class _Draft:
    """The stay being decided: what the helpers of ``PatientSim.simulate_stay`` fill in."""

    at: int
    age: float
    xa: float  # (age - 70) / 10
    xb: float  # burden - 2
    z: float  # latent severity
    month: int
    icu: bool = False
    icu_days: int = 0
    los: int = 0
    line_days: int = 0
    mort_extra: float = 0.0  # log-odds added to in-hospital death by complications
    complicated: bool = False
    late_complication: str | None = None
    secondary: list[tuple[str, str, int]] = field(default_factory=list)
    procedures: list[tuple[str, str, int]] = field(default_factory=list)
    devices: list[tuple[str, int, int, str]] = field(default_factory=list)


class PatientSim:
    """Simulates one patient and appends serialised resources to ``out``."""

    def __init__(self, ctx: Context, index: int, out: dict[str, list[bytes]], stats: Counter):
        self.ctx = ctx
        self.st = ctx.structure
        self.i = index
        self.pid = f"p{index:07d}"
        self.out = out
        self.stats = stats
        self.rng = random.Random((ctx.seed << 32) | index)
        self.n_stays = 0

    def put(self, rtype: str, res: Resource) -> None:
        self.out.setdefault(rtype, []).append(orjson.dumps(res))

    # -- the patient -------------------------------------------------------------------------
    def run(self) -> None:
        rng = self.rng
        u = rng.random()
        acc = 0.0
        lo, hi = 18, 100
        for lo, hi, share in AGE_BANDS:  # noqa: B007 - the last band is the fallback
            acc += share
            if u < acc:
                break
        self.age0 = lo + (hi - lo) * rng.random()
        self.female = rng.random() < FEMALE_SHARE
        self.birth = self.ctx.start - timedelta(days=int(self.age0 * 365.25))
        sites = self.st.sites
        u = rng.random()
        self.home = (
            0 if u < sites[0].weight else (1 if u < sites[0].weight + sites[1].weight else 2)
        )
        self.comorb: dict[str, str] = {}
        x = (self.age0 - 65) / 10
        for c in cx.COMORBIDITIES:
            if c.key == "metastatic":
                if "cancer" in self.comorb and rng.random() < 0.25:
                    self.comorb[c.key] = rng.choice(c.codes)
                continue
            if rng.random() < _expit(_logit(c.p65) + c.slope * x):
                self.comorb[c.key] = rng.choice(c.codes)
        w = {c.key: c.weight for c in cx.COMORBIDITIES}
        burden = sum(w[k] for k in self.comorb)
        if "metastatic" in self.comorb:
            burden -= w["cancer"]  # Charlson hierarchy: metastatic replaces solid tumour
        self.burden = burden
        self.payer = self._payer()
        self.pcp = rng.choice(self.st.staff[(self.home, "primary-care")])
        # Background (non-hospital) death: Gompertz hazard, ~1%/year at 65.
        hazard = math.exp(-10.2 + 0.087 * self.age0) * math.exp(0.1 * burden)
        self.death = int(rng.expovariate(hazard) * 365.25 * DAY)
        self.busy: list[tuple[int, int]] = []
        self.joint_stays: list[tuple[int, int, bool]] = []
        self.stays()
        self.visits()
        self.emit_patient()

    def _payer(self) -> str:
        u = self.rng.random()
        if self.age0 >= 65:
            table = (("medicare", 0.92), ("medicaid", 0.03), ("commercial", 0.04))
        else:
            table = (("commercial", 0.62), ("medicaid", 0.24), ("medicare", 0.04))
        acc = 0.0
        for key, p in table:
            acc += p
            if u < acc:
                return key
        return "self"

    def age_at(self, minute: int) -> float:
        return self.age0 + minute / (365.25 * DAY)

    # -- inpatient stays -------------------------------------------------------------------
    def stays(self) -> None:
        rng = self.rng
        ctx = self.ctx
        rate = ADMISSION_BASE * math.exp(ADMISSION_AGE * (self.age0 - 40))
        rate *= math.exp(ADMISSION_BURDEN * self.burden)
        lam = rate / (365.25 * DAY)
        t = 0
        pending: tuple[int, cx.CaseType, int, str, str | None] | None = None
        prev: Stay | None = None
        while True:
            t_index = t + int(rng.expovariate(lam))
            if pending is not None and pending[0] <= t_index:
                at, case, site, how, forced = pending
                readmit = True
                pending = None
            else:
                at, case, how, forced = t_index, self._draw_case(t_index), "index", None
                site = self._draw_site(case)
                readmit = False
            if at >= ctx.horizon or at >= self.death:
                return
            if readmit and prev is not None and _ortho_h1(prev):
                who = "signal" if prev.attending == self.st.signal_surgeon else "peers"
                self.stats[f"surgeon_{who}_readmitted"] += 1
            stay = self.simulate_stay(at, case, site, how, forced, readmit)
            prev = stay
            t = stay.discharge
            if stay.died:
                return
            pending = self._after_discharge(stay)

    def _draw_case(self, minute: int) -> cx.CaseType:
        age = self.age_at(minute)
        x = (age - 65) / 10
        weights = [
            c.weight * math.exp(c.age_slope * x) * _eligible(c, self.female, age)
            for c in cx.CASE_TYPES
        ]
        return self.rng.choices(cx.CASE_TYPES, weights)[0]

    def _draw_site(self, case: cx.CaseType) -> int:
        sites = [s.index for s in self.st.sites if case.department in s.departments]
        if len(sites) == 1:
            return sites[0]  # e.g. cardiac surgery and psychiatry: the tertiary centre only
        # Where a medical department is missing the hospitalists admit (``_department``); a
        # delivery needs a maternity unit.
        allowed = sites if case.department == "obstetrics" else [0, 1, 2]
        if self.home in allowed and self.rng.random() < HOME_SITE_SHARE:
            return self.home
        others = [s for s in allowed if s != self.home]
        return self.rng.choice(others)

    def _department(self, case: cx.CaseType, site: int) -> str:
        dept = case.department
        if dept not in self.st.sites[site].departments:
            dept = "medicine"  # no cardiology/neurology at Lakeview: the hospitalists admit
        return dept

    def simulate_stay(
        self,
        at: int,
        case: cx.CaseType,
        site: int,
        how: str,
        forced: str | None,
        readmit: bool,
        origin: str | None = None,
    ) -> Stay:
        """Decide one stay (and a transfer-out's receiving stay) and emit its resources.

        The order of the random draws is part of the determinism contract: keep it.
        """
        rng = self.rng
        ctx = self.ctx
        st = self.st
        age = self.age_at(at)
        dept = self._department(case, site)
        elective, priority, source, at = self._admission(at, case, how)
        z = rng.gauss(0, 1)
        if elective:
            z = 0.5 * z - 0.5
        d = _Draft(at=at, age=age, xa=(age - 70) / 10, xb=self.burden - 2, z=z, month=ctx.month(at))
        attending = self._attending(case, site, dept)
        surgeon_signal = case.surgical and attending == st.signal_surgeon
        transfer = rng.random() < self._transfer_probability(case, site, how, elective)
        d.icu = case.icu >= 1.0 or (case.icu > 0 and z > _ICU_THRESHOLD[case.key])
        d.los = self._length_of_stay(case, d, attending, elective)
        if transfer:
            d.los = rng.choice((0, 0, 1))
            d.icu = False
        principal = forced or rng.choice(case.codes)
        self._secondary_diagnoses(case, principal, d)
        if not transfer and not (how == "readmission" and forced):
            self._case_procedure(case, principal, elective, d)
        if case.surgical and d.procedures:
            self._complication(case, surgeon_signal, d)
        if d.icu:
            d.icu_days = min(d.los, max(1, round(d.los * (0.3 + 0.4 * rng.random()))))
        clabsi_signal = (
            site == CLABSI_SIGNAL_SITE and ctx.clabsi_quarter <= d.month < ctx.clabsi_quarter + 3
        )
        self._devices(case, clabsi_signal, d)
        self._falls_and_pressure_injuries(d)
        icu_signal = self._icu_signal(site, d)
        died = not transfer and rng.random() < self._death_probability(case, d, icu_signal)
        if died:
            d.los = max(0, int(d.los * (0.15 + 0.85 * rng.random())))
            d.icu_days = max(1, d.los) if d.icu else 0  # dies in the ICU, even on day 0
        discharge = self._discharge_time(d, died, transfer)
        if not died and d.at <= self.death < discharge:
            # The background (out-of-hospital) death drawn for the patient fell inside a stay
            # they leave alive: it happens after discharge, never before it.
            self.death = discharge + 12 * 60
        if died:
            disposition = "expired"
        elif transfer:
            disposition = "transfer"
        else:
            disposition = self._disposition(case, age, z, elective)
        admitting = attending
        if source == "emd":
            admitting = rng.choice(st.staff[(site, "emergency")])
        self.n_stays += 1
        stay = Stay(
            id=f"{self.pid}-i{self.n_stays}",
            case=case,
            site=site,
            department=dept,
            admit=d.at,
            discharge=discharge,
            priority=priority,
            admit_source=source,
            attending=attending,
            admitting=admitting,
            disposition=disposition,
            icu_days=d.icu_days,
            principal=principal,
            secondary=d.secondary,
            procedures=d.procedures,
            # Device periods end at discharge at the latest.
            devices=[(k, s, min(e, discharge), p) for k, s, e, p in d.devices],
            died=died,
            payer=self.payer,
            late_complication=d.late_complication,
            z=z,
            surgeon_signal=surgeon_signal,
            complicated=d.complicated,
            origin=origin,
            destination=st.sites[TRANSFER_TO].id if transfer else None,
        )
        if case.key in ("hip_replacement", "knee_replacement") and elective and d.procedures:
            self.joint_stays.append((d.at, discharge, d.complicated))
        if died:
            self.death = min(self.death, discharge)
        self._stay_stats(stay, icu_signal, d.line_days, clabsi_signal)
        self.emit_stay(stay)
        self.busy.append((d.at, discharge))
        if transfer:
            # The receiving tertiary centre admits within a few hours.
            arrive = discharge + rng.randrange(60, 6 * 60)
            if arrive < ctx.horizon and arrive < self.death:
                return self.simulate_stay(
                    arrive, case, TRANSFER_TO, "transfer-in", principal, False, st.sites[site].id
                )
        if disposition == "rehab" and rng.random() < OWN_REHAB_SHARE:
            # The system's inpatient rehabilitation unit (a non-acute stay) admits the same day.
            arrive = discharge + rng.randrange(60, 6 * 60)
            if arrive < ctx.horizon and arrive < self.death:
                rehab_dx = "I69.351" if case.key == "stroke" else "Z47.89"
                return self.simulate_stay(
                    arrive, cx.REHAB_CASE, REHAB_SITE, "transfer-in", rehab_dx, False, None
                )
        return stay

    def _admission(self, at: int, case: cx.CaseType, how: str) -> tuple[bool, str, str, int]:
        """(elective, priority, admit source, admission minute)."""
        rng = self.rng
        elective = how == "index" and rng.random() < case.elective
        if how == "transfer-in":
            priority, source = ("EM", "hosp-trans")
        elif elective:
            priority, source = ("EL", "mp")
        elif rng.random() < 0.9:
            priority, source = ("EM", "emd")
        else:
            priority, source = ("UR", "outp")
        if elective:
            # Elective admissions arrive in the morning of a weekday.
            day0 = at // DAY
            wd = (self.ctx.start + timedelta(days=day0)).weekday()
            day0 += {5: 2, 6: 1}.get(wd, 0)
            at = day0 * DAY + 6 * 60 + rng.randrange(0, 120)
        return elective, priority, source, at

    def _attending(self, case: cx.CaseType, site: int, dept: str) -> str:
        staff = self.st.staff[(site, dept)]
        surgeon = self.st.signal_surgeon
        if case.surgical and surgeon in staff:
            weights = [SURGEON_VOLUME if p == surgeon else 1.0 for p in staff]
            return self.rng.choices(staff, weights)[0]
        return self.rng.choice(staff)

    @staticmethod
    def _transfer_probability(case: cx.CaseType, site: int, how: str, elective: bool) -> float:
        """Transfer out from hospitals without a cath lab / stroke service."""
        if how == "transfer-in" or elective:
            return 0.0
        if case.key == "ami":
            return {2: 0.6, 1: 0.15}.get(site, 0.0)
        if case.key == "stroke" and site == 2:
            return 0.3
        if case.key == "sepsis" and site == 2:
            return 0.04
        return 0.0

    def _length_of_stay(self, case: cx.CaseType, d: _Draft, attending: str, elective: bool) -> int:
        mean = (
            LOS_SCALE * case.los * math.exp(LOS_AGE * d.xa + LOS_BURDEN * d.xb + LOS_SEVERITY * d.z)
        )
        if attending == self.st.signal_los_physician:
            mean *= LOS_SIGNAL_FACTOR
        sigma = 0.35 if elective else LOS_SIGMA
        return max(1, round(mean * math.exp(self.rng.gauss(0, sigma) - sigma * sigma / 2)))

    def _secondary_diagnoses(self, case: cx.CaseType, principal: str, d: _Draft) -> None:
        """Comorbidities (85% coded), case-specific acute codes, then MCC/CC by severity."""
        rng = self.rng
        if case.key == "delivery":
            d.secondary.append(("Z37.0", "y", d.at))  # outcome of delivery: always coded
        for code in self.comorb.values():
            if rng.random() < 0.85 and code != principal:
                d.secondary.append((code, "y", d.at))
        p_extra = _expit(SECONDARY_INTERCEPT + SECONDARY_SEVERITY * d.z)
        for code in case.extra_secondary:
            if rng.random() < p_extra and code != principal:
                d.secondary.append((code, "y", d.at))
        if case.key == "delivery":
            return  # the medical MCC/CC list does not describe uncomplicated deliveries
        for codes, (b0, bz) in ((cx.MCC_CODES, MCC_COEF), (cx.CC_CODES, CC_COEF)):
            if rng.random() < _expit(b0 + bz * d.z + 0.1 * d.xb + 0.1 * d.xa):
                for code in rng.sample(codes, 2 if rng.random() < 0.3 else 1):
                    if all(code != c for c, _, _ in d.secondary):
                        d.secondary.append((code, "y", d.at))

    def _case_procedure(self, case: cx.CaseType, principal: str, elective: bool, d: _Draft) -> None:
        """The case's main procedure (at most one), on the side of the principal diagnosis."""
        rng = self.rng
        left = principal in cx.LEFT_DIAGNOSES
        for proc in case.procedures:
            if rng.random() < proc.prob:
                code = cx.LEFT_PROCEDURE.get(proc.code, proc.code) if left else proc.code
                when = d.at + (DAY // 4 if elective else rng.randrange(DAY // 4, 2 * DAY))
                d.procedures.append((code, proc.display, when))
                break

    def _complication(self, case: cx.CaseType, surgeon_signal: bool, d: _Draft) -> None:
        """Post-operative complication: during the stay (POA n) or as a later readmission."""
        rng = self.rng
        lp = _logit(case.complication) + COMP_AGE * d.xa + COMP_BURDEN * d.xb
        lp += COMP_SEVERITY * d.z
        p_comp = _expit(lp) * (SURGEON_COMPLICATION_RR if surgeon_signal else 1.0)
        if rng.random() >= p_comp:
            return
        comp = rng.choice(cx.COMPLICATIONS.get(case.key, cx.COMPLICATIONS["default"]))
        d.complicated = True
        self.stats["complication"] += 1
        if rng.random() < 0.65 or d.los < 2:
            onset = d.at + rng.randint(1, max(1, d.los)) * DAY + rng.randrange(DAY // 2)
            d.secondary.append((comp, "n", onset))
            d.los += rng.randint(2, 4)
            d.mort_extra += 1.0
        else:
            d.late_complication = comp

    def _devices(self, case: cx.CaseType, clabsi_signal: bool, d: _Draft) -> None:
        """Central line and urinary catheter, their insertions, CLABSI/CAUTI; ventilation."""
        rng = self.rng
        if (
            (d.icu and rng.random() < 0.7)
            or case.key == "cabg"
            or (case.key == "sepsis" and rng.random() < 0.1)
        ):
            # Lines stay in past the ICU days (step-down, antibiotics): ICU days + 1-4 days.
            d.line_days = max(1, min(d.los, (d.icu_days or d.los // 2 or 1) + rng.randint(1, 4)))
            h = CLABSI_SIGNAL_HAZARD if (clabsi_signal and d.icu_days) else CLABSI_HAZARD
            if self._device(
                "central-line", cx.CENTRAL_LINE_PCS, 6 * 60, d.line_days, h, cx.CLABSI_CODE, d
            ):
                d.los += 4
                d.mort_extra += 0.6
                self.stats["clabsi"] += 1
        if (
            (d.icu and rng.random() < 0.8)
            or (case.surgical and rng.random() < 0.6)
            or (d.age > 75 and rng.random() < 0.15)
        ):
            days = d.icu_days + rng.randint(0, 3) if d.icu else rng.randint(1, 5)
            if self._device(
                "urinary-catheter",
                cx.URINARY_CATHETER_PCS,
                8 * 60,
                max(1, min(d.los, days)),
                CAUTI_HAZARD,
                cx.CAUTI_CODE,
                d,
            ):
                d.los += 3
                d.mort_extra += 0.3
                self.stats["cauti"] += 1
        if d.icu and d.z > 1.5:
            d.procedures.append((*cx.VENTILATION_PCS, d.at + DAY // 2))

    def _device(
        self,
        kind: str,
        pcs: tuple[str, str],
        latest: int,
        days: int,
        hazard: float,
        infection: str,
        d: _Draft,
    ) -> bool:
        """Insert a device for ``days``; True when it causes an infection (added to the stay)."""
        start = d.at + self.rng.randrange(60, latest)
        d.devices.append((kind, start, start + days * DAY, pcs[0]))
        d.procedures.append((*pcs, start))
        onset_day = self._hazard_day(days, hazard)
        if onset_day:
            d.secondary.append((infection, "n", start + (onset_day - 1) * DAY + 600))
        return bool(onset_day)

    def _falls_and_pressure_injuries(self, d: _Draft) -> None:
        """Falls with injury and stage 3-4 pressure injuries (not present on admission)."""
        rng = self.rng
        if d.los >= 2:
            p_fall = FALL_RATE * d.los * math.exp(0.3 * d.xa)
            p_fall *= 3 if "dementia" in self.comorb else 1
            if rng.random() < p_fall:
                onset = d.at + rng.randint(1, d.los - 1) * DAY + rng.randrange(DAY)
                d.secondary.append((rng.choice(cx.FALL_CODES), "n", onset))
                d.secondary.append((cx.FALL_CAUSE, "n", onset))
                d.los += 2
                self.stats["fall"] += 1
            p_pu = PRESSURE_RATE * d.los * math.exp(0.3 * d.xa) * (4 if d.icu else 1)
            if rng.random() < p_pu:
                onset = d.at + rng.randint(min(2, d.los - 1), d.los - 1) * DAY + rng.randrange(DAY)
                d.secondary.append((rng.choice(cx.PRESSURE_CODES), "n", onset))
                self.stats["pressure"] += 1
        if d.age > 80 and rng.random() < 0.015:
            d.secondary.append((rng.choice(cx.PRESSURE_CODES), "y", d.at))

    def _icu_signal(self, site: int, d: _Draft) -> float:
        """The planted ICU mortality odds ratio for this stay (0 when not applicable)."""
        if not (d.icu and site == ICU_SIGNAL_SITE):
            return 0.0
        k = d.month - (self.ctx.months - ICU_SIGNAL_MONTHS)
        if k < 0:
            return 0.0
        return 1 + (ICU_SIGNAL_MAX_OR - 1) * (k + 1) / ICU_SIGNAL_MONTHS

    @staticmethod
    def _death_probability(case: cx.CaseType, d: _Draft, icu_signal: float) -> float:
        lp = MORT_INTERCEPT + _logit(case.mortality) + MORT_AGE * d.xa + MORT_BURDEN * d.xb
        lp += MORT_SEVERITY * d.z + d.mort_extra
        if icu_signal:
            lp += math.log(icu_signal)
        return _expit(lp)

    def _discharge_time(self, d: _Draft, died: bool, transfer: bool) -> int:
        rng = self.rng
        discharge_day = d.at // DAY + d.los
        if died:
            return max(d.at + 60, discharge_day * DAY + rng.randrange(DAY))
        if transfer:
            return d.at + rng.randrange(3 * 60, 20 * 60)
        return max(d.at + 3 * 60, discharge_day * DAY + 10 * 60 + rng.randrange(6 * 60))

    def _hazard_day(self, days: int, hazard: float) -> int:
        """The device day (>= 3) an infection starts on, or 0 for none."""
        for d in range(3, days + 1):
            if self.rng.random() < hazard:
                return d
        return 0

    def _disposition(self, case: cx.CaseType, age: float, z: float, elective: bool) -> str:
        x = (age - 65) / 10
        b = self.burden
        if case.key in ("delivery", "psychiatric", "rehabilitation"):
            w = {"home": 0.9, "alt_home": 0.05, "ama": 0.02, "snf": 0.03 * math.exp(0.6 * x)}
            return self.rng.choices(list(w), list(w.values()))[0]
        if elective:
            w = {"home": 0.45, "home_health": 0.45, "snf": 0.08 * math.exp(0.5 * x), "rehab": 0.02}
        else:
            rehab = 0.03 * (8 if case.key in ("stroke", "hip_fracture") else 1)
            hospice = 0.01 * math.exp(0.5 * z + 0.4 * x)
            if "metastatic" in self.comorb:
                hospice *= 5
            ama = 0.015 * math.exp(-0.5 * x) * (3 if "alcohol" in self.comorb else 1)
            mental = "depression" in self.comorb or "alcohol" in self.comorb
            w = {
                "home": 1.0,
                "alt_home": 0.04,
                "home_health": 0.25 * math.exp(0.3 * x),
                "snf": 0.12 * math.exp(0.6 * x + 0.1 * b + 0.3 * z),
                "rehab": rehab,
                "long": 0.01 * math.exp(0.6 * x) * (3 if "dementia" in self.comorb else 1),
                "psych": 0.004 * (5 if mental else 1),
                "hospice": 0.7 * hospice,
                "hospice_facility": 0.3 * hospice,
                "ama": ama,
            }
        return self.rng.choices(list(w), list(w.values()))[0]

    def _after_discharge(self, stay: Stay) -> tuple[int, cx.CaseType, int, str, str | None] | None:
        """Schedule a post-discharge death and/or a 30-day readmission."""
        rng = self.rng
        if stay.disposition == "transfer":
            return None
        case = stay.case
        age = self.age_at(stay.discharge)
        xa, xb, z = (age - 70) / 10, self.burden - 2, stay.z
        if stay.disposition.startswith("hospice"):
            p_death = 0.65
        else:
            lp = (
                POST30_INTERCEPT
                + _logit(case.post30)
                + POST30_AGE * xa
                + POST30_BURDEN * xb
                + POST30_SEVERITY * z
            )
            p_death = _expit(lp)
        if rng.random() < p_death:
            self.death = min(self.death, stay.discharge + rng.randrange(DAY, 30 * DAY))
        late = stay.late_complication
        if late:
            at = stay.discharge + rng.randint(3, 25) * DAY + rng.randrange(DAY)
            return (at, case, stay.site, "readmission", late)
        lp = (
            READM_INTERCEPT
            + _logit(case.readmission)
            + READM_AGE * xa
            + READM_BURDEN * xb
            + READM_SEVERITY * z
        )
        if stay.disposition == "ama":
            lp += 0.6
        elif stay.disposition.startswith("hospice"):
            lp -= 2.0
        p_readmit = _expit(lp) * (SURGEON_READMISSION_RR if stay.surgeon_signal else 1.0)
        if rng.random() >= p_readmit:
            return None
        day = 1 + min(29, int(rng.expovariate(1 / 8)))
        at = stay.discharge + day * DAY - rng.randrange(DAY // 2)
        if case.elective or case.surgical or rng.random() >= 0.4:
            nxt = self.rng.choices(
                _EMERGENCY_CASES,
                [c.weight for c in _EMERGENCY_CASES],
            )[0]
        else:
            nxt = case
        site = (
            stay.site
            if rng.random() < 0.85
            else rng.choice([s for s in range(3) if s != stay.site])
        )
        only = [s.index for s in self.st.sites if nxt.department in s.departments]
        if len(only) == 1:
            site = only[0]  # cardiac surgery, psychiatry: the tertiary centre only
        return (at, nxt, site, "readmission", None)

    def _stay_stats(self, stay: Stay, icu_signal: float, line_days: int, clabsi_q: bool) -> None:
        s = self.stats
        if stay.case.encounter_class != "IMP":
            s["non_acute_stays"] += 1  # rehabilitation: outside the acute totals and signals
            return
        s["stays"] += 1
        s["los_days"] += (stay.discharge // DAY) - (stay.admit // DAY)
        s["deaths"] += stay.died
        if stay.icu_days and stay.site == ICU_SIGNAL_SITE:
            recent = icu_signal > 0
            s["icu_signal_stays_recent" if recent else "icu_signal_stays_before"] += 1
            s["icu_signal_deaths_recent" if recent else "icu_signal_deaths_before"] += stay.died
        st = self.st
        if _ortho_h1(stay):
            who = "signal" if stay.attending == st.signal_surgeon else "peers"
            s[f"surgeon_{who}_cases"] += 1
            s[f"surgeon_{who}_complicated"] += stay.complicated
        if stay.site == 2 and stay.department == "medicine" and not stay.died:
            who = "signal" if stay.attending == st.signal_los_physician else "peers"
            s[f"los_{who}_stays"] += 1
            s[f"los_{who}_days"] += (stay.discharge // DAY) - (stay.admit // DAY)
        if stay.site == CLABSI_SIGNAL_SITE and stay.icu_days and line_days:
            key = "cluster" if clabsi_q else "other"
            s[f"clabsi_site_line_days_{key}"] += line_days
            s[f"clabsi_site_events_{key}"] += any(c == cx.CLABSI_CODE for c, _, _ in stay.secondary)

    # -- resources of a stay ---------------------------------------------------------------
    def emit_stay(self, stay: Stay) -> None:
        """Conditions, Encounter, Procedures, Devices, labs and the claim pair of one stay.

        The order of the random draws is part of the determinism contract: keep it.
        """
        meta = {"lastUpdated": self.ctx.instant(stay.discharge)}
        codes = [(stay.principal, "y", stay.admit), *stay.secondary]
        diagnoses, cond_ids = self._emit_conditions(stay, codes, meta)
        locations, t_icu_end = self._locations(stay)
        participants = self._participants(stay, t_icu_end)
        self._emit_encounter(stay, diagnoses, locations, participants, meta)
        proc_ids = self._emit_procedures(stay, meta)
        self._emit_devices(stay, proc_ids, meta)
        self.emit_labs(stay, {c for c, _, _ in codes}, meta)
        self.emit_claim(stay, codes, cond_ids, meta)
        self._emit_adverse_events(stay, t_icu_end, meta)

    def _emit_adverse_events(self, stay: Stay, t_icu_end: int, meta: dict[str, str]) -> None:
        """The EHR's own AdverseEvent records: nursing documents every fall with injury and
        every hospital-acquired stage 3-4 pressure injury (about what EHR event buttons capture;
        most other harm reaches the safety office only as a staff report). Draws no random
        numbers (the determinism contract of ``emit_stay``)."""
        site = self.st.sites[stay.site]
        ward_key = WARD_OF[stay.department]
        ward = site.units["med" if ward_key == "icu" else ward_key]
        for j, (code, poa, onset) in enumerate(stay.secondary, start=1):
            kind = _EHR_EVENTS.get(code) if poa == "n" else None
            if kind is None:
                continue
            snomed, display, seriousness = kind
            unit = site.units["icu"] if stay.icu_days and onset < t_icu_end else ward
            self.put(
                "AdverseEvent",
                {
                    "resourceType": "AdverseEvent",
                    "id": f"ae-{stay.id}-{j}",
                    "meta": meta,
                    "actuality": "actual",
                    "event": {
                        "coding": [
                            coding(cx.SNOMED, snomed, display),
                            *self.ctx.icd[code]["coding"],
                        ],
                        "text": display,
                    },
                    "subject": ref("Patient", self.pid),
                    "encounter": ref("Encounter", stay.id),
                    "date": self.ctx.ts(onset),
                    "recordedDate": self.ctx.ts(min(onset + 120, stay.discharge)),
                    "location": ref("Location", unit.id),
                    "seriousness": cc(_SERIOUSNESS, seriousness),
                },
            )

    def _emit_conditions(
        self, stay: Stay, codes: list[tuple[str, str, int]], meta: dict[str, str]
    ) -> tuple[list[Resource], list[str]]:
        """One Condition per diagnosis (principal first); Encounter.diagnosis entries."""
        ctx = self.ctx
        pref, eref = ref("Patient", self.pid), ref("Encounter", stay.id)
        diagnoses = []
        cond_ids = []
        for j, (code, _poa, onset) in enumerate(codes, start=1):
            cid = f"{stay.id}-d{j}"
            cond_ids.append(cid)
            self.put(
                "Condition",
                {
                    "resourceType": "Condition",
                    "id": cid,
                    "meta": meta,
                    "clinicalStatus": _CLINICAL[code not in _CHRONIC],
                    "verificationStatus": _CONFIRMED,
                    "category": _ENC_DX,
                    "code": ctx.icd[code],
                    "subject": pref,
                    "encounter": eref,
                    "onsetDateTime": ctx.ts(onset),
                    "recordedDate": ctx.ts(max(onset, stay.admit)),
                },
            )
            diagnoses.append(
                {
                    "condition": ref("Condition", cid),
                    "use": _DX_USE_DD if j == 1 else _DX_USE_CM,
                    "rank": j,
                }
            )
        return diagnoses, cond_ids

    def _locations(self, stay: Stay) -> tuple[list[Resource], int]:
        """An ICU room for the ICU days, then a room of the department's ward."""
        ctx = self.ctx
        site = self.st.sites[stay.site]
        ward_key = WARD_OF[stay.department]
        ward = site.units["med" if ward_key == "icu" else ward_key]
        locations = []
        t_icu_end = stay.admit
        if stay.icu_days:
            t_icu_end = min(stay.discharge, stay.admit + stay.icu_days * DAY)
            locations.append(
                {
                    "location": ref("Location", self.rng.choice(site.units["icu"].rooms)),
                    "status": "completed",
                    "period": {"start": ctx.ts(stay.admit), "end": ctx.ts(t_icu_end)},
                }
            )
        if t_icu_end < stay.discharge:
            locations.append(
                {
                    "location": ref("Location", self.rng.choice(ward.rooms)),
                    "status": "completed",
                    "period": {"start": ctx.ts(t_icu_end), "end": ctx.ts(stay.discharge)},
                }
            )
        return locations, t_icu_end

    def _participants(self, stay: Stay, t_icu_end: int) -> list[Resource]:
        """Admitter, attender (attribution), discharger and the intensivist for ICU days."""
        rng = self.rng
        staff = self.st.staff
        admit_ts, disch_ts = self.ctx.ts(stay.admit), self.ctx.ts(stay.discharge)
        discharger = stay.attending
        if rng.random() < 0.3:
            discharger = rng.choice(staff[(stay.site, stay.department)])
        participants = [
            _participant("ADM", stay.admitting, admit_ts, admit_ts),
            _participant("ATND", stay.attending, admit_ts, disch_ts),
            _participant("DIS", discharger, disch_ts, disch_ts),
        ]
        if stay.icu_days and stay.department != "critical-care":
            intensivist = rng.choice(staff[(stay.site, "critical-care")])
            participants.append(_participant("CON", intensivist, admit_ts, self.ctx.ts(t_icu_end)))
        return participants

    def _emit_encounter(
        self,
        stay: Stay,
        diagnoses: list[Resource],
        locations: list[Resource],
        participants: list[Resource],
        meta: dict[str, str],
    ) -> None:
        ctx = self.ctx
        disp = cx.DISPOSITIONS[stay.disposition]
        los_days = stay.discharge // DAY - stay.admit // DAY
        self.put(
            "Encounter",
            {
                "resourceType": "Encounter",
                "id": stay.id,
                "meta": meta,
                "status": "finished",
                "class": _CLASS[stay.case.encounter_class],
                "type": [_TYPE_IMP],
                "serviceType": _SERVICE[stay.department],
                "priority": _PRIORITY[stay.priority],
                "subject": ref("Patient", self.pid),
                "participant": participants,
                "period": {"start": ctx.ts(stay.admit), "end": ctx.ts(stay.discharge)},
                "length": {"value": los_days, "unit": "days", "system": cx.UCUM, "code": "d"},
                "reasonCode": [ctx.icd[stay.principal]],
                "diagnosis": diagnoses,
                "hospitalization": {
                    "admitSource": _ADMIT_SOURCE[stay.admit_source],
                    "dischargeDisposition": {
                        "coding": [
                            coding(cx.DISCHARGE, disp[0]),
                            coding(cx.NUBC_DISCHARGE, disp[1], disp[2]),
                        ],
                        "text": disp[2],
                    },
                    **_transfer_links(stay),
                },
                "location": locations,
                "serviceProvider": ref(
                    "Organization", self.st.department_id(stay.site, stay.department)
                ),
            },
        )

    def _emit_procedures(self, stay: Stay, meta: dict[str, str]) -> dict[tuple[str, int], str]:
        """ICD-10-PCS Procedures (surgery in an OR room); returns ids by (code, minute)."""
        ctx = self.ctx
        or_rooms = self.st.sites[stay.site].units["or"].rooms
        proc_ids: dict[tuple[str, int], str] = {}
        surgeon_ref = ref("Practitioner", stay.attending)
        for j, (code, display, when) in enumerate(stay.procedures, start=1):
            xid = f"{stay.id}-x{j}"
            proc_ids[(code, when)] = xid
            res: Resource = {
                "resourceType": "Procedure",
                "id": xid,
                "meta": meta,
                "status": "completed",
                "code": cc(cx.ICD10PCS, code, display),
                "subject": ref("Patient", self.pid),
                "encounter": ref("Encounter", stay.id),
                "performedDateTime": ctx.ts(when),
                "performer": [{"actor": surgeon_ref}],
            }
            if stay.case.surgical and code not in _BEDSIDE:
                res["location"] = ref("Location", self.rng.choice(or_rooms))
            self.put("Procedure", res)
        return proc_ids

    def _emit_devices(
        self, stay: Stay, proc_ids: dict[tuple[str, int], str], meta: dict[str, str]
    ) -> None:
        """Device + DeviceUseStatement (derived from its insertion Procedure) per device."""
        ctx = self.ctx
        pref = ref("Patient", self.pid)
        for j, (kind, start, end, pcs) in enumerate(stay.devices, start=1):
            did = f"{stay.id}-dev{j}"
            snomed, display = cx.DEVICE_TYPES[kind]
            self.put(
                "Device",
                {
                    "resourceType": "Device",
                    "id": did,
                    "meta": meta,
                    "status": "inactive",
                    "type": cc(cx.SNOMED, snomed, display),
                    "patient": pref,
                },
            )
            self.put(
                "DeviceUseStatement",
                {
                    "resourceType": "DeviceUseStatement",
                    "id": f"{stay.id}-du{j}",
                    "meta": meta,
                    "status": "completed",
                    "subject": pref,
                    "derivedFrom": [ref("Procedure", proc_ids[(pcs, start)])],
                    "timingPeriod": {"start": ctx.ts(start), "end": ctx.ts(end)},
                    "recordedOn": ctx.ts(end),
                    "device": ref("Device", did),
                },
            )

    def emit_labs(self, stay: Stay, codes: set[str], meta: dict[str, str]) -> None:
        """Haemoglobin and sodium on admission and on the day of discharge (HOSPITAL score)."""
        rng = self.rng
        ctx = self.ctx
        hb = (13.0 if self.female else 14.5) - 0.4 * stay.z
        hb -= 1.0 * ("anemia" in self.comorb) + 1.0 * ("ckd" in self.comorb)
        na = 139.0 - 1.5 * (stay.case.key == "hf")
        hb_drop = 3.5 if stay.case.key == "gi_bleed" else (0.8 if stay.case.key == "sepsis" else 0)
        low_na = "E87.1" in codes
        surgical = stay.case.surgical and any(c in _SURGICAL_PCS for c, _, _ in stay.procedures)
        draws = (
            (stay.admit + rng.randrange(30, 180), hb - hb_drop, na - 10 * low_na),
            (
                max(stay.admit + 240, stay.discharge - rng.randrange(2 * 60, 8 * 60)),
                hb - 0.7 * hb_drop - 1.5 * surgical,
                na - 5 * low_na,
            ),
        )
        j = 0
        for when, hb_mean, na_mean in draws:
            for (code, display, unit), value in (
                (_HB, round(max(5.0, rng.gauss(hb_mean, 1.1)), 1)),
                (_NA, float(round(rng.gauss(na_mean, 2.5)))),
            ):
                j += 1
                self.put(
                    "Observation",
                    {
                        "resourceType": "Observation",
                        "id": f"{stay.id}-o{j}",
                        "meta": meta,
                        "status": "final",
                        "category": _LAB,
                        "code": cc(cx.LOINC, code, display),
                        "subject": ref("Patient", self.pid),
                        "encounter": ref("Encounter", stay.id),
                        "effectiveDateTime": ctx.ts(when),
                        "valueQuantity": {
                            "value": value,
                            "unit": unit,
                            "system": cx.UCUM,
                            "code": unit,
                        },
                    },
                )

    def emit_claim(self, stay: Stay, codes, cond_ids, meta) -> None:  # type: ignore[no-untyped-def]
        ctx = self.ctx
        rng = self.rng
        eid = stay.id
        los = max(1, stay.discharge // DAY - stay.admit // DAY)
        billed = stay.case.charge * (0.6 + 0.4 * los / max(stay.case.los, 1.0))
        billed += 6_000 * stay.icu_days
        billed = round(billed * math.exp(rng.gauss(0, 0.25)), 2)
        diagnosis = [
            {
                "sequence": j,
                "diagnosisCodeableConcept": ctx.icd[code],
                "type": [_DX_TYPE_PRINCIPAL if j == 1 else _DX_TYPE_SECONDARY],
                "onAdmission": _POA[poa],
            }
            for j, (code, poa, _) in enumerate(codes, start=1)
        ]
        procedure = [
            {
                "sequence": j,
                "date": ctx.ts(when),
                "procedureCodeableConcept": cc(cx.ICD10PCS, code, display),
            }
            for j, (code, display, when) in enumerate(stay.procedures, start=1)
        ]
        self._claim_pair(
            eid,
            stay.site,
            stay.department,
            stay.admit,
            stay.discharge,
            "institutional",
            "0120",
            billed,
            diagnosis,
            procedure,
            meta,
        )

    def _claim_pair(
        self,
        eid,
        site,
        dept,
        start,
        end,
        ctype,
        revenue,
        billed,
        diagnosis,  # type: ignore[no-untyped-def]
        procedure,
        meta,
    ) -> None:
        ctx = self.ctx
        payer = self.payer
        _, _, _, ratio = cx.PAYERS[payer]
        provider = ref("Organization", self.st.department_id(site, dept))
        insurer = (
            ref("Patient", self.pid)
            if payer == "self"
            else ref("Organization", f"org-payer-{payer}")
        )
        created = ctx.ts(end + DAY)
        coverage = ref("Coverage", f"{self.pid}-cov")
        claim: Resource = {
            "resourceType": "Claim",
            "id": f"{eid}-c",
            "meta": meta,
            "status": "active",
            "type": _CLAIM_TYPE[ctype],
            "use": "claim",
            "patient": ref("Patient", self.pid),
            "billablePeriod": {"start": ctx.ts(start), "end": ctx.ts(end)},
            "created": created,
            "provider": provider,
            "priority": _NORMAL,
            "insurance": [{"sequence": 1, "focal": True, "coverage": coverage}],
            "diagnosis": diagnosis,
            "item": [
                {
                    "sequence": 1,
                    "revenue": cc(cx.REVENUE, revenue),
                    "productOrService": cc(cx.REVENUE, revenue),
                    "servicedPeriod": {"start": ctx.ts(start), "end": ctx.ts(end)},
                    "encounter": [ref("Encounter", eid)],
                    "net": {"value": billed, "currency": "USD"},
                }
            ],
            "total": {"value": billed, "currency": "USD"},
        }
        if procedure:
            claim["procedure"] = procedure
        self.put("Claim", claim)
        paid = round(billed * ratio * math.exp(self.rng.gauss(0, 0.1)), 2)
        self.put(
            "ExplanationOfBenefit",
            {
                "resourceType": "ExplanationOfBenefit",
                "id": f"{eid}-b",
                "meta": meta,
                "status": "active",
                "type": _CLAIM_TYPE[ctype],
                "use": "claim",
                "patient": ref("Patient", self.pid),
                "billablePeriod": {"start": ctx.ts(start), "end": ctx.ts(end)},
                "created": created,
                "insurer": insurer,
                "provider": provider,
                "claim": ref("Claim", f"{eid}-c"),
                "outcome": "complete",
                "insurance": [{"focal": True, "coverage": coverage}],
                "total": [
                    {"category": _ADJ["submitted"], "amount": {"value": billed, "currency": "USD"}},
                    {"category": _ADJ["benefit"], "amount": {"value": paid, "currency": "USD"}},
                ],
                "payment": {"amount": {"value": paid, "currency": "USD"}},
            },
        )

    # -- ED and outpatient visits, PROMs ---------------------------------------------------
    def visits(self) -> None:
        ctx = self.ctx
        rng = self.rng
        end = min(ctx.horizon, self.death)
        scale = math.exp(0.10 * self.burden) / (365.25 * DAY)
        for kind, rate in (("ed", ED_RATE), ("amb", OUTPATIENT_RATE)):
            t = 0
            k = 0
            while True:
                t += int(rng.expovariate(rate * scale))
                if t >= end:
                    break
                if any(a - DAY <= t <= b + DAY for a, b in self.busy):
                    continue
                k += 1
                self.emit_visit(kind, k, t)
        self.proms()

    def emit_visit(self, kind: str, k: int, t: int) -> None:
        ctx = self.ctx
        rng = self.rng
        st = self.st
        eid = f"{self.pid}-{'e' if kind == 'ed' else 'a'}{k}"
        if kind == "ed":
            site = self.home if rng.random() < HOME_SITE_SHARE else rng.randrange(3)
            dept = "emergency"
            doc = rng.choice(st.staff[(site, dept)])
            end = t + rng.randrange(2 * 60, 8 * 60)
            code = rng.choice(cx.ED_CODES)
        else:
            site = self.home
            if rng.random() < 0.75:
                dept, doc = "primary-care", self.pcp
            else:
                dept = rng.choice(("cardiology", "orthopedics", "surgery", "neurology"))
                if dept not in st.sites[site].departments:
                    dept = "surgery"
                doc = rng.choice(st.staff[(site, dept)])
            t = (t // DAY) * DAY + 8 * 60 + rng.randrange(9 * 60)
            end = t + rng.choice((15, 20, 30, 40))
            code = rng.choice(cx.OUTPATIENT_CODES)
        if end >= ctx.horizon:
            return
        meta = {"lastUpdated": ctx.instant(end)}
        pref = ref("Patient", self.pid)
        enc: Resource = {
            "resourceType": "Encounter",
            "id": eid,
            "meta": meta,
            "status": "finished",
            "class": _CLASS["EMER" if kind == "ed" else "AMB"],
            "type": [_TYPE_ED if kind == "ed" else _TYPE_AMB],
            "serviceType": _SERVICE[dept],
            "subject": pref,
            "participant": [{"type": [_PART["ATND"]], "individual": ref("Practitioner", doc)}],
            "period": {"start": ctx.ts(t), "end": ctx.ts(end)},
            "reasonCode": [ctx.icd[code]],
            "serviceProvider": ref("Organization", st.department_id(site, dept)),
        }
        diagnosis = [
            {"sequence": 1, "diagnosisCodeableConcept": ctx.icd[code], "type": [_DX_TYPE_PRINCIPAL]}
        ]
        if kind == "ed":
            cid = f"{eid}-d1"
            enc["priority"] = _PRIORITY["EM"]
            enc["diagnosis"] = [{"condition": ref("Condition", cid), "use": _DX_USE_DD, "rank": 1}]
            enc["location"] = [
                {
                    "location": ref("Location", rng.choice(st.sites[site].units["ed"].rooms)),
                    "status": "completed",
                    "period": {"start": ctx.ts(t), "end": ctx.ts(end)},
                }
            ]
            self.put(
                "Condition",
                {
                    "resourceType": "Condition",
                    "id": cid,
                    "meta": meta,
                    "clinicalStatus": _CLINICAL[True],
                    "verificationStatus": _CONFIRMED,
                    "category": _ENC_DX,
                    "code": ctx.icd[code],
                    "subject": pref,
                    "encounter": ref("Encounter", eid),
                    "onsetDateTime": ctx.ts(t),
                    "recordedDate": ctx.ts(t),
                },
            )
        self.put("Encounter", enc)
        billed = round((1_800 if kind == "ed" else 220) * math.exp(rng.gauss(0, 0.3)), 2)
        self._claim_pair(
            eid,
            site,
            dept,
            t,
            end,
            "institutional" if kind == "ed" else "professional",
            "0450" if kind == "ed" else "0510",
            billed,
            diagnosis,
            [],
            meta,
        )

    def proms(self) -> None:
        """PROMIS Global-10 before and ~90 days after elective joint replacement."""
        for k, (admit, discharge, comp) in enumerate(self.joint_stays, start=1):
            rng = self.rng
            base_phys = rng.gauss(-1.0, 0.8)
            mental = rng.gauss(0, 1)
            if rng.random() < 0.85:
                self._qr(f"{self.pid}-q{k}a", admit - rng.randint(3, 30) * DAY, base_phys, mental)
            t_post = discharge + rng.randint(75, 105) * DAY
            if t_post < min(self.ctx.horizon, self.death) and rng.random() < 0.7:
                gain = rng.gauss(1.1, 0.6) - (0.8 if comp else 0.0)
                self._qr(f"{self.pid}-q{k}b", t_post, base_phys + gain, mental + 0.2)

    def _qr(self, qid: str, when: int, phys: float, mental: float) -> None:
        rng = self.rng

        def five(level: float) -> int:
            return max(1, min(5, round(3 + 0.9 * level + rng.gauss(0, 0.6))))

        answers = {
            "Global01": five(0.5 * (phys + mental)),
            "Global02": five(0.5 * (phys + mental)),
            "Global03": five(phys),
            "Global04": five(mental),
            "Global05": five(mental),
            "Global09": five(0.5 * (phys + mental)),
            "Global06": five(phys),
            "Global10": 6 - five(mental),  # "never" (1) .. "always" (5): reversed
            "Global08": 6 - five(phys),  # fatigue: "none" (1) .. "very severe" (5)
            "Global07": max(0, min(10, round(5 - 2 * phys + rng.gauss(0, 1.2)))),
        }
        self.put(
            "QuestionnaireResponse",
            {
                "resourceType": "QuestionnaireResponse",
                "id": qid,
                "meta": {"lastUpdated": self.ctx.instant(when)},
                "questionnaire": cx.PROMIS_QUESTIONNAIRE,
                "status": "completed",
                "subject": ref("Patient", self.pid),
                "authored": self.ctx.ts(when),
                "item": [
                    {"linkId": link, "text": text, "answer": [{"valueInteger": answers[link]}]}
                    for link, text in cx.PROMIS_ITEMS
                ],
            },
        )

    # -- the Patient and Coverage ----------------------------------------------------------
    def emit_patient(self) -> None:
        ctx = self.ctx
        rng = self.rng
        given = cx.GIVEN_F if self.female else cx.GIVEN_M
        last = min(ctx.horizon, self.death)
        res: Resource = {
            "resourceType": "Patient",
            "id": self.pid,
            "meta": {"lastUpdated": ctx.instant(max(0, last - DAY))},
            "identifier": [
                {
                    # The medical record number, typed by HL7 v2 table 0203 (code MR).
                    "type": {"coding": [{"system": cx.V2_0203, "code": "MR"}]},
                    "system": "urn:oid:2.16.840.1.113883.3.9999.1",
                    "value": f"MRN{self.i:08d}",
                }
            ],
            "name": [{"family": rng.choice(cx.FAMILY), "given": [rng.choice(given)]}],
            "gender": "female" if self.female else "male",
            "birthDate": self.birth.isoformat(),
            "generalPractitioner": [ref("Practitioner", self.pcp)],
            "managingOrganization": ref("Organization", self.st.sites[self.home].id),
        }
        if self.death < ctx.horizon:
            res["deceasedDateTime"] = ctx.ts(self.death)
            self.stats["patients_dead"] += 1
        self.put("Patient", res)
        code, display, _, _ = cx.PAYERS[self.payer]
        payor = (
            ref("Patient", self.pid)
            if self.payer == "self"
            else ref("Organization", f"org-payer-{self.payer}")
        )
        self.put(
            "Coverage",
            {
                "resourceType": "Coverage",
                "id": f"{self.pid}-cov",
                "meta": {"lastUpdated": ctx.instant(0)},
                "status": "active",
                "type": cc(cx.PAYER_TYPE, code, display),
                "beneficiary": ref("Patient", self.pid),
                "period": {"start": ctx.start.isoformat()},
                "payor": [payor],
            },
        )


# -- constant fragments (shared, never mutated) ---------------------------------------------
_CLINICAL = {
    False: cc(cx.CONDITION_CLINICAL, "active"),
    True: cc(cx.CONDITION_CLINICAL, "resolved"),
}
_CONFIRMED = cc(cx.CONDITION_VER, "confirmed")
_ENC_DX = [cc(cx.CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")]
_DX_USE_DD = cc(cx.DIAGNOSIS_ROLE, "DD", "Discharge diagnosis")
_DX_USE_CM = cc(cx.DIAGNOSIS_ROLE, "CM", "Comorbidity diagnosis")
_DX_TYPE_PRINCIPAL = cc(cx.DIAGNOSIS_TYPE, "principal")
_DX_TYPE_SECONDARY = cc(cx.DIAGNOSIS_TYPE, "discharge")
_POA = {flag: cc(cx.ON_ADMISSION, flag) for flag in ("y", "n", "u", "w")}
_PART = {
    "ADM": cc(cx.PARTICIPATION, "ADM", "admitter"),
    "ATND": cc(cx.PARTICIPATION, "ATND", "attender"),
    "DIS": cc(cx.PARTICIPATION, "DIS", "discharger"),
    "CON": cc(cx.PARTICIPATION, "CON", "consultant"),
}
# Diagnosis codes of harm the EHR records as an AdverseEvent -> (SNOMED CT event, display,
# AdverseEvent.seriousness). SNOMED CT: 217082002 "Accidental fall", 399912005 "Pressure ulcer"
# (pressure ulcer, stage 3-4 are serious harm).
_EHR_EVENTS: dict[str, tuple[str, str, str]] = {
    **{c: ("217082002", "Accidental fall", "serious") for c in cx.FALL_CODES},
    **{c: ("399912005", "Pressure ulcer", "serious") for c in cx.PRESSURE_CODES},
}
_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"

_CLASS = {
    "IMP": coding(cx.ACT_CODE, "IMP", "inpatient encounter"),
    "NONAC": coding(cx.ACT_CODE, "NONAC", "inpatient non-acute"),
    "EMER": coding(cx.ACT_CODE, "EMER", "emergency"),
    "AMB": coding(cx.ACT_CODE, "AMB", "ambulatory"),
}
_TYPE_IMP = cc(cx.SNOMED, "32485007", "Hospital admission")
_TYPE_ED = cc(cx.SNOMED, "4525004", "Emergency department patient visit")
_TYPE_AMB = cc(cx.SNOMED, "185347001", "Encounter for problem")
_PRIORITY = {
    "EM": cc(cx.ACT_PRIORITY, "EM", "emergency"),
    "UR": cc(cx.ACT_PRIORITY, "UR", "urgent"),
    "EL": cc(cx.ACT_PRIORITY, "EL", "elective"),
}
_ADMIT_SOURCE = {
    code: cc(cx.ADMIT_SOURCE, code, display)
    for code, display in (
        ("emd", "From accident/emergency department"),
        ("hosp-trans", "Transferred from other hospital"),
        ("mp", "Medical Practitioner/physician referral"),
        ("outp", "From outpatient department"),
    )
}
_SERVICE = {
    dept: cc(cx.NUCC, taxonomy, display, text=name)
    for dept, (name, taxonomy, display) in cx.DEPARTMENTS.items()
}
_CLAIM_TYPE = {
    "institutional": cc(cx.CLAIM_TYPE, "institutional", "Institutional"),
    "professional": cc(cx.CLAIM_TYPE, "professional", "Professional"),
}
_NORMAL = cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal")
_ADJ = {
    "submitted": cc(cx.ADJUDICATION, "submitted", "Submitted Amount"),
    "benefit": cc(cx.ADJUDICATION, "benefit", "Benefit Amount"),
}
_HB = ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL")
_NA = ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L")
_LAB = [
    cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")
]
_SURGICAL_PCS = {p.code for c in cx.CASE_TYPES if c.surgical for p in c.procedures} | set(
    cx.LEFT_PROCEDURE.values()
)
_BEDSIDE = {cx.CENTRAL_LINE_PCS[0], cx.URINARY_CATHETER_PCS[0], cx.VENTILATION_PCS[0]}


def _participant(role: str, practitioner: str, start: str, end: str) -> Resource:
    return {
        "type": [_PART[role]],
        "individual": ref("Practitioner", practitioner),
        "period": {"start": start, "end": end},
    }


def _transfer_links(stay: Stay) -> dict[str, dict[str, str]]:
    """Encounter.hospitalization.origin / destination of an inter-hospital transfer."""
    links = {}
    if stay.origin:
        links["origin"] = ref("Organization", stay.origin)
    if stay.destination:
        links["destination"] = ref("Organization", stay.destination)
    return links


def _eligible(case: cx.CaseType, female: bool, age: float) -> float:
    """1.0 when the patient can have this kind of admission (sex, age), else 0.0."""
    if (case.female_only and not female) or age > case.max_age:
        return 0.0
    return 1.0


def _ortho_h1(stay: Stay) -> bool:
    """A surgical orthopaedic stay at Riverside: the planted surgeon's peer group."""
    return stay.site == 0 and stay.department == "orthopedics" and stay.case.surgical


def simulate_chunk(ctx: Context, lo: int, hi: int) -> tuple[dict[str, bytes], Counter]:
    """Patients [lo, hi): NDJSON bytes per resource type and counters for signals.json."""
    out: dict[str, list[bytes]] = {}
    stats: Counter = Counter()
    for i in range(lo, hi):
        PatientSim(ctx, i, out, stats).run()
    return {k: b"\n".join(v) + b"\n" for k, v in out.items()}, stats
