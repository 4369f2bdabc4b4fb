"""Tables of practitioner review (``review__*``): OPPE indicators, cycles and profiles; FPPEs
with their triggers and plans; confidential peer-review cases, reviewer assignments and
declared conflicts. Every table a person edits keeps its history (django-simple-history).

Rules and sources: :mod:`cmo.review.rules` and docs/review.md.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from cmo.directory.models import Department, Practitioner
from cmo.review.apps import CAPABILITIES
from cmo.web.scope import RestrictedQuerySet

USER = settings.AUTH_USER_MODEL


class Capability(models.Model):
    """No rows: carries this app's permissions (see ``cmo.review.apps.CAPABILITIES``)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(CAPABILITIES)


class Competency(models.TextChoices):
    """The six ACGME/ABMS general competencies (ACGME Common Program Requirements, 1999/2017;
    adopted by the Joint Commission for OPPE/FPPE, MS.08.01.01 EP 2)."""

    PATIENT_CARE = "patient_care", "Patient care"
    KNOWLEDGE = "medical_knowledge", "Medical knowledge"
    PBLI = "practice_based_learning", "Practice-based learning and improvement"
    COMMUNICATION = "communication", "Interpersonal and communication skills"
    PROFESSIONALISM = "professionalism", "Professionalism"
    SYSTEMS = "systems_based_practice", "Systems-based practice"


class IndicatorKind(models.TextChoices):
    MEASURE = "measure", "Risk-adjusted outcome (warehouse measure)"
    VOLUME = "volume", "Volume (stays attended)"
    SAFETY = "safety", "Safety events referred to peer review"
    PEER_REVIEW = "peer_review", "Peer-review results"
    MANUAL = "manual", "Entered by hand (e.g. documentation audit)"


class Indicator(models.Model):
    """One OPPE indicator of a department (or of every department when ``department`` is
    empty), with its competency and thresholds on its own scale (O/E for a measure)."""

    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=IndicatorKind.choices)
    measure_id = models.CharField(max_length=40, blank=True, help_text="for a measure indicator")
    label = models.CharField(max_length=120)
    competency = models.CharField(max_length=30, choices=Competency.choices)
    higher_is_worse = models.BooleanField(default=True)
    review_at = models.FloatField(null=True, blank=True, help_text="threshold: review from here")
    action_at = models.FloatField(null=True, blank=True, help_text="threshold: action from here")
    active = models.BooleanField(default=True)
    history = HistoricalRecords(table_name="review__indicator_history")

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {"department": "department__code"}

    class Meta:
        db_table = "review__indicator"
        ordering = ["kind", "measure_id", "label"]

    def __str__(self) -> str:
        return str(self.label)


class Decision(models.TextChoices):
    CONTINUE = "continue", "Continue privileges"
    FPPE = "fppe", "Start an FPPE"
    PEER_REVIEW = "peer_review", "Refer to peer review"


class OppeProfile(models.Model):
    """A practitioner's OPPE profile of one cycle (``2024H2``): the indicators as computed
    (``data``), then the chair's signed, timestamped decision."""

    cycle = models.CharField(max_length=7, help_text="2024H2, 2024H1 or 2024 (12 months)")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        Department, null=True, on_delete=models.PROTECT, related_name="+"
    )
    built_at = models.DateTimeField(auto_now=True)
    due = models.DateField(help_text="the chair's decision is on time up to this date")
    data = models.JSONField(default=list)
    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by_name = models.CharField(max_length=150, blank=True, help_text="the signature")
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(table_name="review__oppe_history", excluded_fields=["data"])

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {
        "department": "department__code",
        "site": "department__site__code",
    }

    class Meta:
        db_table = "review__oppe"
        ordering = ["-cycle", "practitioner__family_name", "practitioner__given_name"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "practitioner"], name="review_oppe_once")
        ]

    def __str__(self) -> str:
        return f"OPPE {self.cycle} of {self.practitioner}"


class ManualValue(models.Model):
    """A hand-entered indicator value (documentation audit, ...) of a practitioner's cycle."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="+")
    cycle = models.CharField(max_length=7)
    value = models.FloatField()
    history = HistoricalRecords(table_name="review__manual_value_history")

    class Meta:
        db_table = "review__manual_value"
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "practitioner", "cycle"], name="review_manual_once"
            )
        ]


class Trigger(models.TextChoices):
    NEW_PRIVILEGE = "new_privilege", "Newly granted privilege"
    SIGNAL = "outcome_signal", "Outcome signal"
    PEER_REVIEW = "peer_review", "Peer-review finding (major opportunity)"
    SENTINEL = "sentinel_event", "Involvement in a sentinel event"
    OPPE = "oppe", "OPPE decision"


class FppeStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed to the chair"
    ACTIVE = "active", "Active"
    DECLINED = "declined", "Declined by the chair"
    CLOSED = "closed", "Closed"


class Method(models.TextChoices):
    RETROSPECTIVE = "retrospective", "Retrospective chart review"
    PROCTORING = "proctoring", "Concurrent proctoring"
    SIMULATION = "simulation", "Simulation"
    EXTERNAL = "external", "External review"


class Outcome(models.TextChoices):
    SATISFACTORY = "satisfactory", "Satisfactory: privileges continue"
    EXTEND = "extend", "Extend the FPPE"
    RESTRICT = "restrict", "Recommend restriction"
    REVOKE = "revoke", "Recommend revocation"


class Fppe(models.Model):
    """A focused professional practice evaluation (TJC MS.08.01.01/.03): its trigger with the
    evidence, the chair's decision on a proposal, the plan, the progress and the outcome."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    measure_id = models.CharField(max_length=40, blank=True)
    # What fired it, kept as the system saw it: the signal row, the grant, the case.
    evidence = models.JSONField(default=dict)
    key = models.CharField(max_length=200, help_text="de-duplication key of the trigger")
    grant_id = models.IntegerField(null=True, blank=True, help_text="staff privilege grant id")
    status = models.CharField(
        max_length=10, choices=FppeStatus.choices, default=FppeStatus.PROPOSED
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    opened = models.DateField(null=True, blank=True, help_text="accepted and started")
    method = models.CharField(max_length=14, choices=Method.choices, blank=True)
    cases_required = models.PositiveIntegerField(null=True, blank=True)
    duration_days = models.PositiveIntegerField(null=True, blank=True)
    reviewers = models.CharField(max_length=300, blank=True)
    criteria = models.TextField(blank=True)
    cases_reviewed = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    comment = models.TextField(blank=True, help_text="the latest decision's comment")
    decided_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords(table_name="review__fppe_history", excluded_fields=["evidence"])

    objects = RestrictedQuerySet.as_manager()
    scope_fields: ClassVar[dict[str, str]] = {
        "department": "department__code",
        "site": "department__site__code",
    }

    class Meta:
        db_table = "review__fppe"
        ordering = ["-proposed_at", "-id"]

    def __str__(self) -> str:
        return f"FPPE of {self.practitioner} ({self.get_trigger_display().lower()})"


class CaseSource(models.TextChoices):
    SIGNAL = "signal", "Outcome signal"
    SAFETY = "safety_event", "Safety event"
    COMPLAINT = "complaint", "Complaint"
    OPPE = "oppe", "OPPE / FPPE"
    MORTALITY = "mortality", "Mortality review (in-hospital death)"
    RANDOM = "random", "Random sample"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open: reviewer to assign"
    REVIEW = "review", "With the reviewer"
    COMMITTEE = "committee", "In committee"
    CLOSED = "closed", "Closed"
    MERGED = "merged", "Merged into another case"


class Score(models.IntegerChoices):
    """A common four-level peer-review scale (after the Rubric of the American College of
    Surgeons / the "most peers would have managed similarly" scales of Edwards, *Peer Review:
    A New Tool for Quality Improvement*, Physician Executive 2009)."""

    SIMILAR = 1, "1 – most peers would have managed it similarly"
    MINOR = 2, "2 – some peers might differ (minor opportunity)"
    MODERATE = 3, "3 – most peers would differ (moderate opportunity)"
    MAJOR = 4, "4 – most peers would differ (major opportunity)"


class Attribution(models.TextChoices):
    NONE = "none", "No issue"
    PRACTITIONER = "practitioner", "Practitioner issue"
    SYSTEM = "system", "System issue"
    BOTH = "both", "Practitioner and system issues"


class PeerCase(models.Model):
    """A confidential peer-review case (state peer-review privilege): visible to the
    committee and the CMO only; its source references merged duplicates in ``sources``."""

    practitioner = models.ForeignKey(
        Practitioner, null=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=14, choices=CaseSource.choices)
    sources = models.JSONField(default=list, help_text="every referral key merged in")
    stay_id = models.CharField(max_length=128, blank=True)
    patient_id = models.CharField(max_length=128, blank=True)
    concern = models.TextField()
    opened_on = models.DateField()
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    blinded = models.BooleanField(default=True, help_text="hide the practitioner from reviewers")
    score = models.PositiveSmallIntegerField(
        choices=Score.choices, null=True, blank=True, help_text="the committee's final score"
    )
    attribution = models.CharField(max_length=12, choices=Attribution.choices, blank=True)
    competency = models.CharField(max_length=30, choices=Competency.choices, blank=True)
    system_issue = models.TextField(blank=True, help_text="for the safety module, if any")
    decision = models.TextField(blank=True)
    decided_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    history = HistoricalRecords(table_name="review__case_history", excluded_fields=["sources"])

    class Meta:
        db_table = "review__case"
        ordering = ["opened_on", "id"]

    def __str__(self) -> str:
        return f"Peer review case {self.pk}"


class Assignment(models.Model):
    """A reviewer (a directory practitioner) of a case and their scoring."""

    case = models.ForeignKey(PeerCase, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    score = models.PositiveSmallIntegerField(
        choices=Score.choices,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
    )
    attribution = models.CharField(max_length=12, choices=Attribution.choices, blank=True)
    competency = models.CharField(max_length=30, choices=Competency.choices, blank=True)
    comment = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(table_name="review__assignment_history")

    class Meta:
        db_table = "review__assignment"
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "reviewer"], name="review_assignment_once")
        ]


class Conflict(models.Model):
    """A declared conflict of interest: ``reviewer`` may not review ``practitioner``."""

    reviewer = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)
    declared_on = models.DateField(auto_now_add=True)
    history = HistoricalRecords(table_name="review__conflict_history")

    class Meta:
        db_table = "review__conflict"
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "practitioner"], name="review_conflict_once"
            )
        ]
