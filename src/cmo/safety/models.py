"""Safety tables (``safety__*``): events, the holiday calendar, investigations (RCA²), their
timelines, causal statements and actions, and peer-review referrals.

Vocabularies follow the standards named on each choice list; docs/safety.md cites them.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cmo.directory.models import Department, Practitioner, Site, Unit


class Capability(models.Model):
    """No rows: only carries the permissions of the safety app (see ``apps.GRANTS``)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("report_event", "Report a patient safety event and see one's own reports"),
            ("triage_events", "See every safety event; triage, classify, route, merge, close"),
            ("view_department_events", "See the safety events of one's own departments"),
            ("investigate_events", "Run RCA² investigations and action plans"),
            ("view_safety_analytics", "See de-identified safety event rates"),
            ("view_referrals", "See peer-review referrals from safety events"),
        ]


class EventType(models.TextChoices):
    """AHRQ Common Formats for Event Reporting – Hospital v2.0, event categories."""

    MEDICATION = "medication", "Medication or other substance"
    FALL = "fall", "Fall"
    PRESSURE = "pressure_injury", "Pressure injury"
    SURGERY = "surgery", "Surgery or invasive procedure"
    ANESTHESIA = "anesthesia", "Anesthesia"
    DEVICE = "device", "Device or health IT"
    BLOOD = "blood", "Blood or blood product"
    PERINATAL = "perinatal", "Perinatal"
    VTE = "vte", "Venous thromboembolism"
    INFECTION = "infection", "Healthcare-associated infection"
    OTHER = "other", "Other"


class Category(models.TextChoices):
    """Common Formats v2.0: an incident reached the patient; a near miss did not; an unsafe
    condition is a circumstance that increases the probability of an event."""

    INCIDENT = "incident", "Incident (reached the patient)"
    NEAR_MISS = "near_miss", "Near miss (did not reach the patient)"
    UNSAFE = "unsafe_condition", "Unsafe condition"


class Harm(models.TextChoices):
    """AHRQ Common Formats Harm Scale v1.2 (incidents only)."""

    DEATH = "death", "Death"
    SEVERE = "severe", "Severe harm"
    MODERATE = "moderate", "Moderate harm"
    MILD = "mild", "Mild harm"
    NONE = "none", "No harm"
    UNKNOWN = "unknown", "Unknown"


# Queue order: worst harm first (unknown sits with moderate: it needs a look).
HARM_RANK = {"death": 0, "severe": 1, "moderate": 2, "unknown": 2, "mild": 3, "none": 4, "": 5}


class Merp(models.TextChoices):
    """NCC MERP Index for Categorizing Medication Errors (2001)."""

    A = "A", "A – circumstances that could cause error"
    B = "B", "B – error, did not reach the patient"
    C = "C", "C – reached the patient, no harm"
    D = "D", "D – reached the patient, monitoring needed, no harm"
    E = "E", "E – temporary harm, intervention needed"
    F = "F", "F – temporary harm, (prolonged) hospitalisation"
    G = "G", "G – permanent harm"
    H = "H", "H – intervention to sustain life"
    I = "I", "I – contributed to or resulted in death"  # noqa: E741


class Status(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    INVESTIGATING = "investigating", "Under investigation"
    CLOSED = "closed", "Closed"
    MERGED = "merged", "Merged into another report"


class Source(models.TextChoices):
    REPORT = "report", "Reported by staff"
    API = "api", "Reported through the API"
    EHR = "ehr", "EHR (FHIR AdverseEvent)"
    REVIEW = "review", "A system issue found by peer review"


class Sre(models.TextChoices):
    """NQF Serious Reportable Events in Healthcare (2011 update), the seven categories."""

    NONE = "", "Not a serious reportable event"
    SURGICAL = "surgical", "1. Surgical or invasive procedure events"
    DEVICE = "device", "2. Product or device events"
    PROTECTION = "protection", "3. Patient protection events"
    CARE = "care", "4. Care management events"
    ENVIRONMENT = "environment", "5. Environmental events"
    RADIOLOGIC = "radiologic", "6. Radiologic events"
    CRIMINAL = "criminal", "7. Potential criminal events"


class Route(models.TextChoices):
    """Just-culture routing: system causes go to RCA², an individual-performance concern to
    peer review; both only when chosen explicitly, with a reason."""

    UNROUTED = "", "Not routed yet"
    SYSTEM = "system", "System causes → RCA² / corrective actions"
    INDIVIDUAL = "individual", "Individual performance concern → peer review"
    BOTH = "both", "Both (explicitly: system causes and an individual concern)"


class Holiday(models.Model):
    """The business-day calendar of the 45-business-day clock (one row per holiday)."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        db_table = "safety__holiday"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Event(models.Model):
    """One patient safety event report (or an EHR AdverseEvent)."""

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.REPORT)
    # Null for an anonymous report: nothing about the reporter is stored anywhere.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    anonymous = models.BooleanField(default=False)
    reported_at = models.DateTimeField(db_index=True)
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    harm = models.CharField(max_length=10, choices=Harm.choices, blank=True)
    merp = models.CharField("NCC MERP category", max_length=1, choices=Merp.choices, blank=True)
    occurred_at = models.DateTimeField()
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location_detail = models.CharField(max_length=200, blank=True)
    practitioners = models.ManyToManyField(
        Practitioner, blank=True, related_name="+", db_table="safety__event_practitioner"
    )
    patient_id = models.CharField(max_length=128, blank=True)
    stay_id = models.CharField(max_length=128, blank=True)
    description = models.TextField()
    ehr_id = models.CharField(max_length=128, null=True, blank=True, unique=True)

    status = models.CharField(max_length=15, choices=Status.choices, default=Status.NEW)
    sre = models.CharField(
        "NQF serious reportable event", max_length=15, choices=Sre.choices, blank=True
    )
    sentinel = models.BooleanField("TJC sentinel event", default=False)
    classified_at = models.DateTimeField(null=True, blank=True)
    team_due = models.DateTimeField(null=True, blank=True)
    analysis_due = models.DateField(null=True, blank=True)
    route = models.CharField(max_length=10, choices=Route.choices, blank=True)
    route_reason = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    closing_message = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # The reporter is never copied into the history; the history user is only ever set to the
    # staff member acting on the event (triage), never on a report's creation.
    history = HistoricalRecords(table_name="safety__event_history", excluded_fields=["reporter"])

    class Meta:
        db_table = "safety__event"
        ordering = ["-reported_at"]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_event_type_display()}"

    @property
    def reference(self) -> str:
        return f"SE-{self.pk:06d}" if self.pk else "SE-new"

    @property
    def serious(self) -> bool:
        return bool(self.sre) or self.sentinel

    @property
    def age_days(self) -> int:
        now: datetime = timezone.now()
        reported: datetime = self.reported_at
        return (now - reported).days


class Referral(models.Model):
    """A peer-review referral: an individual-performance concern about a practitioner, with the
    event attached. Read by the review module through ``cmo.safety.interface``."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="referrals")
    practitioner = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    concern = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True, help_text="set by peer review")

    class Meta:
        db_table = "safety__referral"
        ordering = ["-created_at"]


class Investigation(models.Model):
    """An RCA² investigation of one event (NPSF RCA², 2015)."""

    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="investigation")
    team = models.TextField(blank=True, help_text="one member per line: name – role")
    team_formed_at = models.DateTimeField(null=True, blank=True)
    plan_completed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(table_name="safety__investigation_history")

    class Meta:
        db_table = "safety__investigation"

    @property
    def members(self) -> list[str]:
        return [line.strip() for line in self.team.splitlines() if line.strip()]

    @property
    def weak_plan(self) -> bool:
        """RCA² asks for at least one stronger or intermediate action in every plan."""
        return not self.actions.exclude(strength="weaker").exists()


class TimelineEntry(models.Model):
    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField()
    fact = models.TextField()

    class Meta:
        db_table = "safety__timeline_entry"
        ordering = ["at", "id"]


class Factor(models.TextChoices):
    """Contributing-factor taxonomy: the VA NCPS triage question areas RCA² (2015) uses."""

    COMMUNICATION = "communication", "Communication"
    TRAINING = "training", "Training"
    FATIGUE = "fatigue", "Fatigue and scheduling"
    ENVIRONMENT = "environment", "Environment and equipment"
    RULES = "rules", "Rules, policies and procedures"
    BARRIERS = "barriers", "Barriers (defences)"
    PATIENT = "patient", "Patient factors"


# The five rules of causation (VA NCPS, in NPSF RCA² 2015, Appendix 6).
FIVE_RULES = (
    ("rule_cause_effect", "It shows the cause and effect relationship."),
    ("rule_specific", "It uses specific, accurate descriptors, not negative or vague words."),
    ("rule_preceding_cause", "A human error has its preceding cause identified."),
    ("rule_procedure", "A procedure deviation has its preceding cause identified."),
    ("rule_duty", "A failure to act is causal only where there was a pre-existing duty to act."),
)


class CausalStatement(models.Model):
    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="causes"
    )
    statement = models.TextField(
        help_text="“Cause X increased the likelihood of Y, which led to Z”"
    )
    factor = models.CharField(max_length=15, choices=Factor.choices)
    rule_cause_effect = models.BooleanField(default=False)
    rule_specific = models.BooleanField(default=False)
    rule_preceding_cause = models.BooleanField(default=False)
    rule_procedure = models.BooleanField(default=False)
    rule_duty = models.BooleanField(default=False)

    class Meta:
        db_table = "safety__causal_statement"
        ordering = ["id"]

    @property
    def rules_met(self) -> int:
        return sum(bool(getattr(self, name)) for name, _ in FIVE_RULES)


class Strength(models.TextChoices):
    STRONGER = "stronger", "Stronger"
    INTERMEDIATE = "intermediate", "Intermediate"
    WEAKER = "weaker", "Weaker"


# The RCA² action hierarchy (NPSF 2015, Table 2, after the VA NCPS): kind -> (label, strength).
ACTION_KINDS: dict[str, tuple[str, str]] = {
    "architectural": ("Architectural or physical plant change", "stronger"),
    "forcing": ("Forcing function", "stronger"),
    "simplify": ("Simplify the process", "stronger"),
    "standardize": ("Standardise equipment or process", "stronger"),
    "leadership": ("Tangible involvement by leadership", "stronger"),
    "redundancy": ("Redundancy", "intermediate"),
    "staffing": ("Increase staffing or decrease workload", "intermediate"),
    "software": ("Software enhancement", "intermediate"),
    "distraction": ("Eliminate or reduce distractions", "intermediate"),
    "checklist": ("Checklist or cognitive aid", "intermediate"),
    "simulation": ("Education using simulation", "intermediate"),
    "lookalike": ("Eliminate look-alikes and sound-alikes", "intermediate"),
    "communication": ("Standardised communication tool", "intermediate"),
    "double_check": ("Double check", "weaker"),
    "warning": ("Warning", "weaker"),
    "policy": ("New procedure, memorandum or policy", "weaker"),
    "training": ("Training", "weaker"),
}


class ActionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Implemented"
    DROPPED = "dropped", "Dropped"


class MeasureKind(models.TextChoices):
    QUALITY = "quality", "Quality measure (warehouse)"
    SAFETY = "safety", "Safety event rate (this module)"


class Action(models.Model):
    """One action of an RCA² action plan, with the measure that should show it worked."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="actions"
    )
    description = models.TextField()
    kind = models.CharField(max_length=15, choices=[(k, v[0]) for k, v in ACTION_KINDS.items()])
    strength = models.CharField(max_length=12, choices=Strength.choices, editable=False)
    owner = models.CharField(max_length=150)
    due = models.DateField()
    status = models.CharField(
        max_length=12, choices=ActionStatus.choices, default=ActionStatus.PLANNED
    )
    implemented_on = models.DateField(null=True, blank=True)
    measure_kind = models.CharField(max_length=10, choices=MeasureKind.choices)
    # A quality measure id (e.g. "clabsi") or an event type of this module (e.g. "fall").
    measure_id = models.CharField(max_length=64)
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords(table_name="safety__action_history")

    class Meta:
        db_table = "safety__action"
        ordering = ["due", "id"]

    def save(self, *args: object, **kwargs: object) -> None:
        # The strength is the kind's place on the hierarchy, never typed by hand.
        self.strength = ACTION_KINDS[self.kind][1]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def phase_date(self) -> date:
        """The date the control chart splits at: implemented, else due."""
        phase: date = self.implemented_on or self.due
        return phase

    @property
    def overdue(self) -> bool:
        done = self.status in (ActionStatus.DONE, ActionStatus.DROPPED)
        return not done and self.due < timezone.localdate()
