"""Tables of the medical staff office (``staff__*``).

A credential file per directory practitioner, with its elements (licences, DEA, board
certifications, malpractice cover and claims, education, work history, CME, health attestation),
primary-source verifications, appointment applications, privileges and exclusion screening.
Every table that a person edits keeps its history (django-simple-history: who, when, what).

Rules and their sources are in the docstrings of :mod:`cmo.staff.rules` and docs/staff.md.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from cmo.directory.models import Department, Practitioner
from cmo.identifiers import is_valid_dea, is_valid_npi
from cmo.staff import rules
from cmo.staff.apps import CAPABILITIES

USER = settings.AUTH_USER_MODEL


def validate_npi(value: str) -> None:
    if not is_valid_npi(value):
        raise ValidationError(f"{value} is not a valid NPI (Luhn check on prefix 80840 fails)")


def validate_dea(value: str) -> None:
    if not is_valid_dea(value):
        raise ValidationError(
            f"{value} is not a valid DEA number (two letters, seven digits, check digit)"
        )


class Capability(models.Model):
    """No rows: carries this app's permissions (see ``cmo.staff.apps.CAPABILITIES``)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(CAPABILITIES)  # one wording: the registry's


class CredentialFile(models.Model):
    """One practitioner's credential file: the parent of every element below."""

    practitioner = models.OneToOneField(
        Practitioner, on_delete=models.PROTECT, related_name="credential_file"
    )
    caqh_id = models.CharField(
        "CAQH ProView id", max_length=20, blank=True, help_text="8-digit CAQH provider id"
    )
    cme_cycle_start = models.DateField(
        null=True, blank=True, help_text="start of the current CME cycle (= appointment cycle)"
    )
    health_attested_on = models.DateField(
        null=True, blank=True, help_text="date of the practitioner's health attestation"
    )
    health_attestation_ok = models.BooleanField(
        default=False, help_text="attests to being able to perform the requested privileges"
    )
    notes = models.TextField(blank=True)
    history = HistoricalRecords(table_name="staff__credentialfile_history")

    class Meta:
        db_table = "staff__credentialfile"
        ordering = ["practitioner__family_name", "practitioner__given_name"]

    def __str__(self) -> str:
        return f"File of {self.practitioner}"

    def clean(self) -> None:
        npi = self.practitioner.npi if self.practitioner_id else None
        if npi:
            validate_npi(npi)

    @property
    def npi_ok(self) -> bool:
        npi = self.practitioner.npi
        return bool(npi) and is_valid_npi(npi)


class Licence(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="licences")
    state = models.CharField(max_length=2, help_text="USPS state code")
    number = models.CharField(max_length=30)
    kind = models.CharField(max_length=40, default="MD", help_text="MD, DO, CSR, ...")
    issued = models.DateField(null=True, blank=True)
    expires = models.DateField()
    history = HistoricalRecords(table_name="staff__licence_history")

    class Meta:
        db_table = "staff__licence"
        ordering = ["expires"]

    def __str__(self) -> str:
        return f"{self.state} {self.kind} licence {self.number}"


class DeaRegistration(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="deas")
    number = models.CharField(max_length=9, validators=[validate_dea])
    state = models.CharField(max_length=2)
    schedules = models.CharField(
        max_length=40, default="2,2N,3,3N,4,5", help_text="controlled-substance schedules"
    )
    expires = models.DateField()
    history = HistoricalRecords(table_name="staff__dea_history")

    class Meta:
        db_table = "staff__dea"
        ordering = ["expires"]

    def __str__(self) -> str:
        return f"DEA {self.number} ({self.state})"

    @property
    def check_ok(self) -> bool:
        """False for a number imported without the form's check (e.g. from a CAQH feed)."""
        return is_valid_dea(self.number)


class MocStatus(models.TextChoices):
    PARTICIPATING = "participating", "Participating in MOC"
    NOT_PARTICIPATING = "not_participating", "Not participating"
    NOT_REQUIRED = "not_required", "Not required (lifetime certificate)"
    LAPSED = "lapsed", "Lapsed"


class BoardCertification(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="boards")
    board = models.CharField(max_length=120, help_text="e.g. American Board of Surgery")
    specialty = models.CharField(max_length=120)
    initial = models.DateField()
    expires = models.DateField(null=True, blank=True, help_text="empty for a lifetime certificate")
    moc_status = models.CharField(
        "MOC status", max_length=20, choices=MocStatus.choices, default=MocStatus.PARTICIPATING
    )
    history = HistoricalRecords(table_name="staff__board_history")

    class Meta:
        db_table = "staff__board"
        ordering = ["-initial"]

    def __str__(self) -> str:
        return f"{self.board}: {self.specialty}"


class MalpracticePolicy(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="policies")
    carrier = models.CharField(max_length=120)
    policy_number = models.CharField(max_length=40, blank=True)
    per_claim_limit = models.PositiveIntegerField(help_text="US dollars")
    aggregate_limit = models.PositiveIntegerField(help_text="US dollars")
    start = models.DateField()
    expires = models.DateField()
    history = HistoricalRecords(table_name="staff__malpractice_history")

    class Meta:
        db_table = "staff__malpractice"
        ordering = ["-expires"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.policy_number}"

    def clean(self) -> None:
        if self.start and self.expires and self.expires <= self.start:
            raise ValidationError("the policy must expire after it starts")


class MalpracticeClaim(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="claims")
    occurred = models.DateField()
    status = models.CharField(
        max_length=10, choices=[("open", "Open"), ("closed", "Closed")], default="open"
    )
    paid = models.PositiveIntegerField(default=0, help_text="indemnity paid, US dollars")
    summary = models.TextField(blank=True)
    history = HistoricalRecords(table_name="staff__claim_history")

    class Meta:
        db_table = "staff__claim"
        ordering = ["-occurred"]

    def __str__(self) -> str:
        return f"claim of {self.occurred} ({self.status})"


class Education(models.Model):
    KINDS = [
        ("medical_school", "Medical school"),
        ("internship", "Internship"),
        ("residency", "Residency"),
        ("fellowship", "Fellowship"),
    ]
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="education")
    kind = models.CharField(max_length=20, choices=KINDS)
    institution = models.CharField(max_length=200)
    program = models.CharField(max_length=200, blank=True)
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    completed = models.BooleanField(default=True)
    history = HistoricalRecords(table_name="staff__education_history")

    class Meta:
        db_table = "staff__education"
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.institution}"


class WorkHistory(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="work")
    employer = models.CharField(max_length=200)
    position = models.CharField(max_length=120, blank=True)
    start = models.DateField()
    end = models.DateField(null=True, blank=True, help_text="empty while current")
    gap_explanation = models.TextField(blank=True, help_text="explanation of a gap before this")
    history = HistoricalRecords(table_name="staff__work_history")

    class Meta:
        db_table = "staff__work"
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.position} at {self.employer}"


class CmeCredit(models.Model):
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="cme")
    earned_on = models.DateField()
    hours = models.DecimalField(max_digits=5, decimal_places=2, validators=[MinValueValidator(0)])
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=40, default="AMA PRA Category 1")
    history = HistoricalRecords(table_name="staff__cme_history")

    class Meta:
        db_table = "staff__cme"
        ordering = ["-earned_on"]

    def __str__(self) -> str:
        return f"{self.hours} h {self.title}"


class ElementKind(models.TextChoices):
    """The verifiable elements of a file (NCQA CR 3 lists what needs primary-source proof)."""

    LICENCE = "licence", "State licence"
    DEA = "dea", "DEA registration"
    BOARD = "board", "Board certification"
    EDUCATION = "education", "Education and training"
    WORK = "work", "Work history"
    MALPRACTICE = "malpractice", "Malpractice history (NPDB)"
    EXCLUSIONS = "exclusions", "Sanctions and exclusions"


ALLOWED_DOCUMENTS = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def validate_document(upload) -> None:  # type: ignore[no-untyped-def]
    """A verification document: PDF, PNG or JPEG by name AND content, at most 10 MB."""
    import os

    ext = os.path.splitext(upload.name)[1].lower()
    if ext == ".jpeg":
        ext = ".jpg"
    if ext not in ALLOWED_DOCUMENTS:
        raise ValidationError(f"{upload.name}: only PDF, PNG or JPEG documents are kept")
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"{upload.name}: larger than 10 MB")
    head = upload.read(8)
    upload.seek(0)
    if not rules.document_magic_ok(ext, head):
        raise ValidationError(f"{upload.name}: the content is not a {ext[1:].upper()} file")


class Verification(models.Model):
    """A primary-source verification of one element of a file."""

    METHODS = [
        ("online", "Primary source web site"),
        ("letter", "Letter or written confirmation"),
        ("phone", "Telephone (documented)"),
        ("cvo", "Credentials verification organisation"),
        ("npdb", "NPDB query"),
    ]
    RESULTS = [
        ("verified", "Verified"),
        ("discrepancy", "Discrepancy"),
        ("unable", "Unable to verify"),
    ]
    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="verifications")
    element = models.CharField(max_length=20, choices=ElementKind.choices)
    source = models.CharField(max_length=200, help_text="e.g. Texas Medical Board web site")
    verified_on = models.DateField()
    method = models.CharField(max_length=10, choices=METHODS)
    verifier = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    result = models.CharField(max_length=12, choices=RESULTS, default="verified")
    document = models.FileField(
        upload_to="staff/verifications/%Y/", blank=True, validators=[validate_document]
    )
    note = models.TextField(blank=True)
    history = HistoricalRecords(table_name="staff__verification_history")

    class Meta:
        db_table = "staff__verification"
        ordering = ["-verified_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_element_display()} verified {self.verified_on}"

    def stale_by(self, decision: date) -> bool:
        return rules.verification_stale(self.verified_on, decision)


class AppState(models.TextChoices):
    RECEIVED = "received", "Received"
    VERIFICATION = "verification", "Verification"
    CHAIR = "chair_review", "Department chair review"
    COMMITTEE = "committee", "Credentials committee"
    MEC = "mec", "Medical executive committee"
    BOARD = "board", "Board approval"
    LETTER = "letter", "Decision letter"
    CLOSED = "closed", "Closed"


class Application(models.Model):
    """An appointment (initial) or reappointment application and where it stands."""

    file = models.ForeignKey(CredentialFile, on_delete=models.PROTECT, related_name="applications")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        max_length=15,
        choices=[("initial", "Initial appointment"), ("reappointment", "Reappointment")],
    )
    state = models.CharField(max_length=15, choices=AppState.choices, default=AppState.RECEIVED)
    received_on = models.DateField(default=date.today)
    state_since = models.DateTimeField(auto_now_add=True)
    planned_decision = models.DateField(
        null=True, blank=True, help_text="date of the committee meeting that will decide"
    )
    cycle_months = models.PositiveSmallIntegerField(
        default=rules.DEFAULT_CYCLE_MONTHS,
        validators=[MinValueValidator(1), MaxValueValidator(rules.MAX_CYCLE_MONTHS)],
        help_text="appointment length; 24 by default, at most 36",
    )
    decision = models.CharField(
        max_length=10, blank=True, choices=[("approved", "Approved"), ("denied", "Denied")]
    )
    decided_on = models.DateField(null=True, blank=True)
    letter_sent_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords(table_name="staff__application_history")

    class Meta:
        db_table = "staff__application"
        ordering = ["received_on", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.file.practitioner} ({self.get_state_display()})"

    @property
    def letter_due(self) -> date | None:
        return rules.letter_due(self.decided_on) if self.decided_on else None


class Transition(models.Model):
    """One step of an application: who moved it, when, from where to where, and why."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(max_length=15, choices=AppState.choices)
    to_state = models.CharField(max_length=15, choices=AppState.choices)
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(max_length=40)
    at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField()

    class Meta:
        db_table = "staff__transition"
        ordering = ["at", "id"]


class PrivilegeDefinition(models.Model):
    """A privilege of a department's delineation, with its criteria."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=10, choices=[("core", "Core"), ("special", "Special")], default="core"
    )
    criteria_training = models.CharField(max_length=300, blank=True)
    criteria_certification = models.CharField(max_length=300, blank=True)
    min_cases_24m = models.PositiveIntegerField(
        default=0, help_text="cases in the last 24 months required to hold it"
    )
    requires_dea = models.BooleanField(
        default=False, help_text="prescribing controlled substances: held only with a valid DEA"
    )
    history = HistoricalRecords(table_name="staff__privilege_history")

    class Meta:
        db_table = "staff__privilege"
        ordering = ["department__name", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="staff_privilege_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display().lower()})"


class PrivilegeCode(models.Model):
    """The code list that counts a privilege's cases (the office edits it)."""

    SOURCES = [
        ("procedure", "Procedure performed (Procedure.performer)"),
        ("attending", "Stay as attending, by principal diagnosis"),
    ]
    privilege = models.ForeignKey(
        PrivilegeDefinition, on_delete=models.CASCADE, related_name="codes"
    )
    source = models.CharField(max_length=10, choices=SOURCES, default="procedure")
    system = models.CharField(max_length=200, help_text="code system URI")
    code = models.CharField(max_length=40, help_text="a code, or a prefix ending in *")
    history = HistoricalRecords(table_name="staff__privilege_code_history")

    class Meta:
        db_table = "staff__privilege_code"
        ordering = ["privilege", "source", "code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.source})"


class GrantStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    GRANTED = "granted", "Granted"
    DENIED = "denied", "Denied"
    HOLD = "suspended_pending", "Suspended — pending office confirmation"
    SUSPENDED = "suspended", "Suspended"
    RELINQUISHED = "relinquished", "Relinquished"


class PrivilegeGrant(models.Model):
    """A practitioner's request for a privilege and what was granted."""

    file = models.ForeignKey(CredentialFile, on_delete=models.CASCADE, related_name="privileges")
    privilege = models.ForeignKey(
        PrivilegeDefinition, on_delete=models.PROTECT, related_name="grants"
    )
    status = models.CharField(
        max_length=20, choices=GrantStatus.choices, default=GrantStatus.REQUESTED
    )
    requested_on = models.DateField(default=date.today)
    granted_on = models.DateField(null=True, blank=True)
    expires = models.DateField(null=True, blank=True, help_text="end of the appointment cycle")
    hold_reason = models.CharField(max_length=300, blank=True)
    fppe_required = models.BooleanField(
        "FPPE required",
        default=False,
        help_text="focused professional practice evaluation of a new privilege",
    )
    fppe_reason = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords(table_name="staff__grant_history")

    class Meta:
        db_table = "staff__grant"
        ordering = ["privilege__name"]
        constraints = [
            models.UniqueConstraint(fields=["file", "privilege"], name="staff_grant_once")
        ]

    def __str__(self) -> str:
        return f"{self.privilege} for {self.file.practitioner}: {self.get_status_display()}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        """A privilege new to the practitioner starts an FPPE (TJC MS.08.01.01): the grant row
        is created once per practitioner and privilege, so creation means "new"."""
        if self._state.adding and not self.fppe_required:
            self.fppe_required, self.fppe_reason = True, "new privilege (TJC MS.08.01.01)"
        super().save(*args, **kwargs)


class ScreeningRun(models.Model):
    """One exclusion-screening run: which files (name, date, SHA-256), when, by whom, outcome."""

    started = models.DateTimeField(auto_now_add=True)
    by = models.CharField(max_length=150, help_text="user name, or 'cli'")
    leie_name = models.CharField(max_length=300)
    leie_date = models.DateField(null=True, help_text="the file's modification date")
    leie_sha256 = models.CharField(max_length=64)
    leie_rows = models.PositiveIntegerField(default=0)
    sam_name = models.CharField(max_length=300, blank=True)
    sam_date = models.DateField(null=True, blank=True)
    sam_sha256 = models.CharField(max_length=64, blank=True)
    sam_rows = models.PositiveIntegerField(default=0)
    practitioners = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False, help_text="false: the run failed; nobody is clear")
    error = models.TextField(blank=True)

    class Meta:
        db_table = "staff__screening_run"
        ordering = ["-started", "-id"]

    def __str__(self) -> str:
        return f"screening {self.started:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'FAILED'})"


class Review(models.TextChoices):
    PENDING = "pending", "Needs review"
    CONFIRMED = "confirmed", "Confirmed: excluded"
    CLEARED = "cleared", "Cleared: not this practitioner"


class ScreeningMatch(models.Model):
    """A candidate hit of a run: which practitioner, on what, how sure, the exclusion row."""

    run = models.ForeignKey(ScreeningRun, on_delete=models.CASCADE, related_name="matches")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=4, choices=[("leie", "OIG LEIE"), ("sam", "SAM.gov")])
    match_on = models.CharField(
        max_length=8,
        choices=[("npi", "NPI"), ("name_dob", "Name and date of birth"), ("name", "Name only")],
    )
    score = models.FloatField()
    active = models.BooleanField()
    waiver = models.CharField(max_length=100, blank=True)
    row = models.JSONField()
    review = models.CharField(max_length=10, choices=Review.choices, default=Review.PENDING)
    reviewer = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    history = HistoricalRecords(table_name="staff__screening_match_history")

    class Meta:
        db_table = "staff__screening_match"
        ordering = ["run", "practitioner"]

    def __str__(self) -> str:
        return f"{self.practitioner} on {self.match_on} ({self.get_review_display()})"
