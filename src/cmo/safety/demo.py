"""Demo safety data for ``cmo demo``: a year of reports, EHR AdverseEvents, a sentinel event
with its RCA² in progress, the investigation of the planted CLABSI cluster (docs/demo-data.md,
``clabsi-cluster``) whose action plan's control chart shows the effect, and one event routed
to peer review.

Call :func:`seed` after the warehouse is built (and after the demo users exist, so named
reports have reporters). Django is set up here, not at import, so ``cmo.demo`` can import this
module lazily without pulling in Django.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The mix of reported events (shares), after the distribution of hospital reports in the AHRQ
# Network of Patient Safety Databases chartbook (medication and falls lead). Infections come
# from surveillance (the CLABSI stays), not from this mix.
TYPE_MIX = {
    "medication": 0.30,
    "fall": 0.21,
    "other": 0.14,
    "device": 0.09,
    "pressure_injury": 0.07,
    "surgery": 0.06,
    "perinatal": 0.03,
    "vte": 0.03,
    "anesthesia": 0.02,
    "blood": 0.05,
}
CATEGORY_MIX = {"incident": 0.62, "near_miss": 0.30, "unsafe_condition": 0.08}
# Harm of incidents: mostly none or mild (AHRQ Harm Scale v1.2 categories).
HARM_MIX = {
    "none": 0.55,
    "mild": 0.30,
    "moderate": 0.105,
    "severe": 0.03,
    "death": 0.005,
    "unknown": 0.01,
}
# NCC MERP of medication incidents by harm.
MERP_BY_HARM = {
    "none": ("C", "D"),
    "unknown": ("C", "D"),
    "mild": ("E",),
    "moderate": ("E", "F"),
    "severe": ("F", "G", "H"),
    "death": ("I",),
}
REPORTS_PER_1000_DAYS = 20.0  # a typical hospital's reporting rate (AHRQ PSNet primers)
MAX_REPORTS = 1200
ANONYMOUS_SHARE = 0.05
CLABSI = "T80211A"  # ICD-10-CM T80.211A, bloodstream infection due to central venous catheter


def _pick(rng: np.random.Generator, mix: dict[str, float]) -> str:
    keys = list(mix)
    p = np.array([mix[k] for k in keys])
    return str(rng.choice(keys, p=p / p.sum()))


def _frames(path: Path) -> dict[str, pd.DataFrame]:
    """The few warehouse tables the seed reads (read-only)."""
    from cmo.warehouse import connect

    wanted = {
        "core__inpatient_stay": [
            "stay_id",
            "patient_id",
            "site_id",
            "department_id",
            "unit_id",
            "attending_id",
            "admit_date",
            "discharge_date",
        ],
        "core__stay_unit": ["stay_id", "unit_id", "first_ts", "last_ts"],
        "core__stay_diagnosis": ["stay_id", "code", "poa"],
    }
    wh = connect(path, read_only=True)
    try:
        out = {}
        for name, cols in wanted.items():
            if wh.exists(name):
                t = wh.table(name)
                out[name] = t.select(*[c for c in cols if c in t.columns]).to_pandas()
            else:
                out[name] = pd.DataFrame(columns=cols)
        return out
    finally:
        wh.close()


def sync_directory(warehouse: Path) -> dict[str, int]:
    """The directory from the warehouse by the directory's own sync (``cmo demo`` has already
    run it; a test seeding a bare warehouse has not), so the demo's events link to the same
    active sites, units and practitioners the sync keeps (create, update, never delete)."""
    from cmo.directory.models import Department, Practitioner, Site, Unit
    from cmo.directory.sync import apply
    from cmo.measures.directory import read
    from cmo.warehouse import connect

    wh = connect(warehouse, read_only=True)
    try:
        apply(read(wh))
    finally:
        wh.close()
    return {
        "sites": Site.objects.filter(active=True).count(),
        "departments": Department.objects.filter(active=True).count(),
        "units": Unit.objects.filter(active=True).count(),
        "practitioners": Practitioner.objects.filter(active=True).count(),
    }


def _rows(df: pd.DataFrame) -> list[Any]:
    """Rows as named tuples, typed loosely (pandas-stubs types every field as a scalar union)."""
    return list(df.itertuples())


def _aware(d: Any, hour: int = 12) -> datetime:
    ts = pd.Timestamp(d)
    return datetime(ts.year, ts.month, ts.day, hour, tzinfo=UTC)


class _Seeder:
    def __init__(self, frames: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
        from django.contrib.auth.models import User

        from cmo.directory.models import Department, Practitioner, Unit

        self.rng = rng
        self.frames = frames
        self.units = {u.code: u for u in Unit.objects.select_related("site")}
        self.depts = {d.code: d for d in Department.objects.all()}
        self.pracs = {p.code: p for p in Practitioner.objects.all()}
        self.reporters = list(User.objects.filter(groups__name__isnull=False).distinct())
        self.officer = User.objects.filter(groups__name="safety_officer").first()
        su = frames["core__stay_unit"].copy()
        su["first"] = pd.to_datetime(su["first_ts"]).dt.date
        su["last"] = pd.to_datetime(su["last_ts"]).dt.date
        self.stay_units = su.merge(
            frames["core__inpatient_stay"][
                ["stay_id", "patient_id", "department_id", "attending_id"]
            ],
            on="stay_id",
            how="left",
        )

    def event(self, **fields: Any) -> Any:
        from cmo.safety.models import Event

        practitioners = fields.pop("practitioners", [])
        e = Event.objects.create(**fields)
        if practitioners:
            e.practitioners.set(practitioners)
        return e

    def year_of_reports(self, start: date, end: date) -> int:
        """Reports spread over the units by their patient days."""
        su = self.stay_units[(self.stay_units["first"] < end) & (self.stay_units["last"] >= start)]
        su = su[su["unit_id"].isin(list(self.units))]
        if su.empty:
            return 0
        # Nights in the units within the window: only the number of reports depends on it (the
        # measures' patient days are the registry's NHSN census).
        last = np.minimum(pd.to_datetime(su["last"]).to_numpy(), np.datetime64(end))
        first = np.maximum(pd.to_datetime(su["first"]).to_numpy(), np.datetime64(start))
        nights = (last - first) // np.timedelta64(1, "D")
        patient_days = float(np.clip(nights, 0, None).sum())
        n = int(min(MAX_REPORTS, patient_days * REPORTS_PER_1000_DAYS / 1000))
        picks = su.sample(n=n, replace=True, random_state=int(self.rng.integers(1 << 31)))
        closing = (
            "Thank you. We reviewed this with the unit team; the learning was shared at the "
            "safety huddle and the unit's practice was updated."
        )
        made = 0
        for r in _rows(picks):
            lo, hi = max(r.first, start), min(r.last, end - timedelta(days=1))
            day = lo + timedelta(days=int(self.rng.integers(0, max(1, (hi - lo).days + 1))))
            when = _aware(day, int(self.rng.integers(0, 24)))
            etype, category = _pick(self.rng, TYPE_MIX), _pick(self.rng, CATEGORY_MIX)
            harm = _pick(self.rng, HARM_MIX) if category == "incident" else "none"
            merp = ""
            if etype == "medication":
                merp = {"near_miss": "B", "unsafe_condition": "A"}.get(category) or str(
                    self.rng.choice(MERP_BY_HARM[harm])
                )
            anonymous = self.rng.random() < ANONYMOUS_SHARE
            reporter = None if anonymous or not self.reporters else self.rng.choice(self.reporters)
            linked = category != "unsafe_condition"
            reported = when + timedelta(hours=int(self.rng.integers(1, 48)))
            closed = reported + timedelta(days=int(self.rng.integers(5, 60)))
            is_closed = closed < _aware(end) and self.rng.random() < 0.85
            unit = self.units[r.unit_id]
            self.event(
                reporter=reporter,
                anonymous=anonymous,
                reported_at=reported.replace(minute=0) if anonymous else reported,
                event_type=etype,
                category=category,
                harm=harm,
                merp=merp,
                occurred_at=when,
                site=unit.site,
                unit=unit,
                department=self.depts.get(r.department_id),
                patient_id=r.patient_id if linked else "",
                stay_id=r.stay_id if linked else "",
                practitioners=[self.pracs[r.attending_id]]
                if linked and r.attending_id in self.pracs and self.rng.random() < 0.4
                else [],
                description=f"Demo {etype} report ({category})".replace("_", " "),
                status="closed"
                if is_closed
                else ("triaged" if end - day > timedelta(30) else "new"),
                closed_at=closed if is_closed else None,
                closing_message=closing if is_closed else "",
            )
            made += 1
        return made

    def clabsi(self) -> tuple[list[Any], Any]:
        """One surveillance event per CLABSI stay (T80.211A not present on admission), in the
        unit of its central line; returns them and the unit with the worst quarter."""
        dx = self.frames["core__stay_diagnosis"]
        stays = dx[(dx["code"] == CLABSI) & (dx["poa"].fillna("n").str.lower() != "y")]["stay_id"]
        su = self.stay_units[self.stay_units["stay_id"].isin(set(stays))]
        icu = su[su["unit_id"].str.contains("icu", case=False, na=False)]
        su = (icu if not icu.empty else su).drop_duplicates("stay_id")
        events = []
        for r in _rows(su):
            unit = self.units.get(r.unit_id)
            if unit is None:
                continue
            when = _aware(r.first + timedelta(days=min(3, max(0, (r.last - r.first).days))))
            events.append(
                self.event(
                    reported_at=when + timedelta(days=2),
                    event_type="infection",
                    category="incident",
                    harm="moderate",
                    occurred_at=when,
                    site=unit.site,
                    unit=unit,
                    department=self.depts.get(r.department_id),
                    patient_id=r.patient_id,
                    stay_id=r.stay_id,
                    description="CLABSI (NHSN surveillance, infection prevention): central "
                    "line-associated bloodstream infection.",
                    status="triaged",
                )
            )
        if not events:
            return [], None
        frame = pd.DataFrame(
            {
                "unit": [e.unit.code for e in events],
                "q": [pd.Timestamp(e.occurred_at.date()).to_period("Q") for e in events],
            }
        )
        unit_code, quarter = frame.value_counts().index[0]
        return [
            e
            for e in events
            if e.unit.code == unit_code
            and pd.Timestamp(e.occurred_at.date()).to_period("Q") == quarter
        ], quarter


def seed(warehouse: Path, *, seed: int = 7, now: datetime | None = None) -> dict[str, int]:
    """Seed the demo's safety data from the built demo warehouse; returns counts. Idempotent:
    does nothing when the app already holds reported events (the EHR's AdverseEvents the sync
    queued before the seed runs, as in ``cmo demo``, do not count)."""
    import cmo.web

    cmo.web.migrate()
    from django.db import transaction
    from django.utils import timezone

    from cmo.safety import clocks, services
    from cmo.safety import models as m

    if m.Event.objects.exclude(source=m.Source.EHR).exists():
        return {"events": 0}
    now = now or timezone.now()
    rng = np.random.default_rng(seed)
    frames = _frames(Path(warehouse))
    counts = sync_directory(Path(warehouse))
    stays = frames["core__inpatient_stay"]
    if stays.empty:
        return counts
    last = pd.to_datetime(stays["discharge_date"]).max().date()
    end = date(last.year, last.month, 1)
    start = date(end.year - 1, end.month, 1)
    clocks.fill_holidays(range(start.year, now.year + 2))
    with transaction.atomic():
        s = _Seeder(frames, rng)
        counts["reports"] = s.year_of_reports(start, end)
        counts["ehr"] = services.import_ehr_events(_ehr_events(Path(warehouse)))
        cluster, quarter = s.clabsi()
        counts["clabsi"] = m.Event.objects.filter(event_type="infection").count()
        if cluster:
            _clabsi_investigation(s, cluster, quarter, now)
        _sentinel(s, now)
        _peer_review(s, now)
    counts["events"] = m.Event.objects.count()
    return counts


def _ehr_events(warehouse: Path) -> list[dict[str, Any]]:
    """The warehouse's AdverseEvents as the sync reads them (``cmo.measures.safety.read``)."""
    from cmo.measures.safety import read
    from cmo.warehouse import connect

    wh = connect(warehouse, read_only=True)
    try:
        return read(wh).adverse_events
    finally:
        wh.close()


def _clabsi_investigation(s: _Seeder, cluster: list[Any], quarter: Any, now: datetime) -> None:
    """The cluster's RCA²: index event, merged duplicates, team, causes and a plan whose actions
    took effect at the end of the cluster quarter (measure: infections in that unit)."""
    from cmo.safety import models as m
    from cmo.safety import services

    index = cluster[0]
    index.description = (
        f"Cluster of {len(cluster)} CLABSI in {index.unit.name} in {quarter}: infection prevention "
        "asks for a comprehensive systematic analysis."
    )
    index.save()
    services.route(
        index,
        route=str(m.Route.SYSTEM),
        reason="Cluster of device-associated infections: system causes (insertion, maintenance).",
        practitioner=None,
        concern="",
        by=s.officer,
    )
    inv = index.investigation
    start = quarter.start_time.to_pydatetime().replace(tzinfo=UTC)
    done = (quarter.end_time + pd.Timedelta(days=1)).normalize().date()
    inv.team = "\n".join(
        (
            "Infection preventionist – lead",
            "ICU medical director",
            "ICU nurse manager",
            "Vascular access nurse",
            "Patient safety officer – facilitator",
        )
    )
    inv.team_formed_at = start + timedelta(days=50)
    inv.plan_completed_at = start + timedelta(days=80)
    inv.save()
    for k, fact in enumerate(
        (
            "First CLABSI of the quarter identified by NHSN surveillance.",
            "Second and third CLABSI in the same unit within three weeks.",
            "Audit: insertion bundle documented for 62% of lines; supplies kept in four places.",
            "Audit: chlorhexidine bathing done on 48% of line days.",
        )
    ):
        m.TimelineEntry.objects.create(
            investigation=inv, at=start + timedelta(days=10 + 15 * k), fact=fact
        )
    m.CausalStatement.objects.create(
        investigation=inv,
        statement="Insertion supplies stored in four places increased the likelihood of breaks in "
        "sterile technique during urgent line insertions, which led to line contamination.",
        factor="environment",
        rule_cause_effect=True,
        rule_specific=True,
        rule_preceding_cause=True,
        rule_procedure=True,
        rule_duty=True,
    )
    m.CausalStatement.objects.create(
        investigation=inv,
        statement="No daily prompt to review line necessity increased line days, which raised the "
        "number of patients exposed to infection risk.",
        factor="rules",
        rule_cause_effect=True,
        rule_specific=True,
        rule_preceding_cause=True,
        rule_procedure=True,
        rule_duty=True,
    )
    for kind, text in (
        (
            "standardize",
            "One standard central-line insertion cart with every bundle item, in every ICU bay.",
        ),
        ("software", "EHR prompt for daily line-necessity review on rounds."),
        ("training", "Re-education of ICU staff on the CLABSI maintenance bundle."),
    ):
        m.Action.objects.create(
            investigation=inv,
            description=text,
            kind=kind,
            owner="ICU nurse manager",
            due=done,
            status=m.ActionStatus.DONE,
            implemented_on=done,
            measure_kind=m.MeasureKind.SAFETY,
            measure_id="infection",
            unit=index.unit,
        )


def _sentinel(s: _Seeder, now: datetime) -> None:
    """A recent fall with severe harm: a TJC sentinel event, RCA² team formed, analysis due."""
    from cmo.safety import clocks, services
    from cmo.safety import models as m

    unit = next((u for c, u in s.units.items() if "med" in c or "ward" in c.lower()), None)
    unit = unit or next(iter(s.units.values()), None)
    when = now - timedelta(days=12)
    e = s.event(
        reporter=s.reporters[0] if s.reporters else None,
        reported_at=when + timedelta(hours=3),
        event_type="fall",
        category="incident",
        harm="severe",
        occurred_at=when,
        site=unit.site if unit else None,
        unit=unit,
        description="Unassisted fall at night on the way to the bathroom; hip fracture, surgery.",
    )
    # NQF SRE 4E (death or serious injury from a fall) and a TJC sentinel event (fall with
    # fracture); classified the day after, so both clocks run from then.
    e.sre, e.sentinel, e.status = m.Sre.CARE, True, m.Status.TRIAGED
    clocks.start_clocks(e, when + timedelta(days=1))
    e.save()
    services.route(
        e,
        route=str(m.Route.SYSTEM),
        reason="Falls programme gaps at night.",
        practitioner=None,
        concern="",
        by=s.officer,
    )
    inv = e.investigation
    inv.team = (
        "Patient safety officer – facilitator\nHospitalist\nCharge nurse (nights)\nPhysiotherapist"
    )
    inv.team_formed_at = when + timedelta(days=3)
    inv.save()
    m.TimelineEntry.objects.create(
        investigation=inv, at=when - timedelta(hours=2), fact="Evening sedative given."
    )
    m.TimelineEntry.objects.create(investigation=inv, at=when, fact="Patient found on the floor.")
    m.Action.objects.create(
        investigation=inv,
        description="Hourly rounding re-education for night staff.",
        kind="training",
        owner="Nurse manager",
        due=(now + timedelta(days=30)).date(),
        measure_kind=m.MeasureKind.SAFETY,
        measure_id="fall",
        unit=unit,
    )


def _peer_review(s: _Seeder, now: datetime) -> None:
    """A medication event with an individual-performance concern routed to peer review."""
    from cmo.safety import models as m
    from cmo.safety import services

    prac = next(iter(s.pracs.values()), None)
    unit = next(iter(s.units.values()), None)
    when = now - timedelta(days=20)
    e = s.event(
        reported_at=when + timedelta(hours=5),
        event_type="medication",
        category="incident",
        harm="moderate",
        merp="F",
        occurred_at=when,
        site=unit.site if unit else None,
        unit=unit,
        practitioners=[prac] if prac else [],
        description="Anticoagulant ordered at ten times the dose despite the pharmacy alert.",
    )
    services.classify(e, sre="", sentinel=False, department=None, by=s.officer)
    services.route(
        e,
        route=str(m.Route.INDIVIDUAL),
        reason="Alerting and order sets worked as designed; a possible at-risk behaviour.",
        practitioner=prac,
        concern="Overrode a hard-stop dose alert without documentation (third time this year).",
        by=s.officer,
    )
