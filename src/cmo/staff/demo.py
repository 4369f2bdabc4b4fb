"""The medical staff office's demo: credential files for every demo practitioner, privileges
with case volume, applications in every state, and a screening run of a small LEIE-format file
shipped with the package (one NPI hit, one name-only possible match, one reinstated row).

``cmo demo`` calls :func:`seed` after the warehouse is built. The directory rows are upserted
from the warehouse by :func:`ensure_directory` (a small stand-in for the directory sync).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from cmo.directory.models import Department, Membership, Practitioner, Site, Source
from cmo.identifiers import dea_check_digit, make_npi
from cmo.staff import rules, services
from cmo.staff.models import (
    Application,
    AppState,
    BoardCertification,
    CmeCredit,
    CredentialFile,
    DeaRegistration,
    Education,
    GrantStatus,
    Licence,
    MalpracticeClaim,
    MalpracticePolicy,
    PrivilegeCode,
    PrivilegeDefinition,
    PrivilegeGrant,
    Verification,
    WorkHistory,
)

PCS = "http://www.cms.gov/Medicare/Coding/ICD10"  # ICD-10-PCS as the demo codes procedures
CM = "http://hl7.org/fhir/sid/icd-10-cm"
# Department kind (the org id's tail) -> privileges: (name, kind, min cases / 24 months,
# needs a DEA, code list of (source, system, code)). Codes are ICD-10-PCS root operations and
# ICD-10-CM principal-diagnosis categories read from their code systems.
CATALOGUE: dict[str, list[tuple[str, str, int, bool, list[tuple[str, str, str]]]]] = {
    "medicine": [
        ("Core hospital medicine", "core", 20, False,
         [("attending", CM, c) for c in ("A41*", "J18*", "N39*", "I50*", "J44*")]),
        ("Central venous catheter insertion", "special", 5, False, [("procedure", PCS, "02HV33Z")]),
    ],
    "cardiology": [
        ("Core cardiology", "core", 20, False,
         [("attending", CM, c) for c in ("I21*", "I48*", "I50*")]),
        ("Percutaneous coronary intervention", "special", 25, False, [("procedure", PCS, "027*")]),
        ("Transcatheter aortic valve replacement", "special", 10, False,
         [("procedure", PCS, "02RF3*")]),
        ("Moderate sedation", "special", 0, True, []),
    ],
    "neurology": [("Core neurology", "core", 10, False, [("attending", CM, "I63*")])],
    "critical-care": [
        ("Core critical care", "core", 10, False, [("procedure", PCS, "5A19*")]),
        ("Moderate sedation", "special", 0, True, []),
    ],
    "surgery": [
        ("Core general surgery", "core", 20, False,
         [("procedure", PCS, c) for c in ("0DT*", "0FT*", "0DJ*")]),
        ("Laparoscopic cholecystectomy", "special", 10, False, [("procedure", PCS, "0FT44ZZ")]),
    ],
    "orthopedics": [
        ("Core orthopaedic surgery", "core", 20, False, [("procedure", PCS, "0QS*")]),
        ("Total joint arthroplasty", "special", 15, False, [("procedure", PCS, "0SR*")]),
    ],
    "cardiac-surgery": [
        ("Core cardiothoracic surgery", "core", 10, False, [("procedure", PCS, "021*")]),
    ],
    "emergency": [
        ("Core emergency medicine", "core", 0, False, []),
        ("Moderate sedation", "special", 0, True, []),
    ],
    "primary-care": [("Core family medicine (ambulatory)", "core", 0, False, [])],
}  # fmt: skip
# Applicants entered by hand (not in the warehouse): the shipped LEIE file names them.
APPLICANTS = (
    ("manual-1", "Vance", "Gregory", make_npi(187654321), date(1969, 4, 12)),
    ("manual-2", "Blackwood", "Theodore", make_npi(165432109), date(1975, 8, 19)),
    ("manual-3", "Raman", "Priya", make_npi(176543210), date(1980, 5, 30)),
)
STATES = ("TX", "OH", "IL")


def leie_file() -> Path:
    """The small LEIE-format file shipped with the package."""
    return Path(str(resources.files("cmo.staff") / "data" / "demo_leie.csv"))


def ensure_directory(warehouse: Path) -> int:
    """Directory rows the warehouse has and the app lacks: sites, departments, practitioners,
    memberships (read-only read of the demo warehouse). Returns the practitioners added."""
    from cmo.warehouse import connect

    wh = connect(warehouse, read_only=True)
    try:
        orgs = wh.table("fhir__organization").to_pyarrow().to_pylist()
        people = wh.table("fhir__practitioner").to_pyarrow().to_pylist()
        roles = wh.table("fhir__practitioner_role").to_pyarrow().to_pylist()
    finally:
        wh.close()
    sites = {
        o["id"]: Site.objects.get_or_create(code=o["id"], defaults={"name": o["name"]})[0]
        for o in orgs
        if o["type_code"] == "prov"
    }
    depts = {
        o["id"]: Department.objects.get_or_create(
            code=o["id"], defaults={"name": o["name"], "site": sites.get(o["part_of_id"])}
        )[0]
        for o in orgs
        if o["type_code"] == "dept"
    }
    added = 0
    for p in people:
        _, new = Practitioner.objects.get_or_create(
            code=p["id"],
            defaults={
                "name": f"Dr {p['given']} {p['family']}",
                "npi": p["npi"],
                "family_name": p["family"] or "",
                "given_name": p["given"] or "",
                "birth_date": p["birth_date_date"],
            },
        )
        added += new
    by_code = {p.code: p for p in Practitioner.objects.all()}
    for r in roles:
        dept = depts.get(r["organization_id"])
        person = by_code.get(r["practitioner_id"])
        if dept and person:
            specialty = r["specialty_display"] or ""
            if specialty and not person.specialty:
                Practitioner.objects.filter(pk=person.pk).update(specialty=specialty)
            Membership.objects.get_or_create(practitioner=person, department=dept, start=None)
    return added


def _kind(dept: Department) -> str:
    """``org-h1-cardiac-surgery`` -> ``cardiac-surgery``."""
    code: str = dept.code
    return code.split("-", 2)[2] if code.count("-") >= 2 else code


def _dea(rng: random.Random, family: str, good: bool = True) -> str:
    six = f"{rng.randint(0, 999_999):06d}"
    check = dea_check_digit(six)
    return f"B{(family[:1] or 'X').upper()}{six}{check if good else (check + 1) % 10}"


def _file(f: CredentialFile, rng: random.Random, today: date, i: int, office: Any) -> None:
    """A realistic file: licence, DEA, board, malpractice, training, work, CME, verifications."""
    p = f.practitioner
    state = STATES[i % len(STATES)]
    # Licences renew every two years on staggered dates; every ~9th is within 60 days.
    soon = i % 9 == 4
    expires = today + timedelta(days=rng.randint(10, 58) if soon else rng.randint(120, 720))
    Licence.objects.create(
        file=f, state=state, number=f"{state[0]}{rng.randint(10000, 99999)}",
        issued=expires - timedelta(days=730), expires=expires,
    )  # fmt: skip
    DeaRegistration.objects.create(
        file=f, number=_dea(rng, p.family_name), state=state,
        expires=today + timedelta(days=rng.randint(40, 1000)),
    )  # fmt: skip
    trained = date(rng.randint(1992, 2014), 7, 1)
    BoardCertification.objects.create(
        file=f, board="American Board of Medical Specialties member board",
        specialty=p.specialty or "Internal Medicine", initial=trained + timedelta(days=400),
        expires=today + timedelta(days=rng.randint(200, 3000)),
    )  # fmt: skip
    MalpracticePolicy.objects.create(
        file=f, carrier=rng.choice(("MedPro Group", "The Doctors Company", "ProAssurance")),
        policy_number=f"PL-{rng.randint(100000, 999999)}", per_claim_limit=1_000_000,
        aggregate_limit=3_000_000, start=today - timedelta(days=200),
        expires=today + timedelta(days=rng.randint(25, 85) if i % 11 == 3 else 165),
    )  # fmt: skip
    if i % 13 == 5:
        MalpracticeClaim.objects.create(
            file=f, occurred=today - timedelta(days=900), status="closed", paid=85_000,
            summary="delayed diagnosis; settled",
        )  # fmt: skip
    school = trained - timedelta(days=365 * 7)
    Education.objects.create(
        file=f,
        kind="medical_school",
        institution="State University School of Medicine",
        start=school,
        end=school + timedelta(days=1400),
    )
    Education.objects.create(
        file=f,
        kind="residency",
        institution="University Hospital",
        program=p.specialty,
        start=trained - timedelta(days=1096),
        end=trained,
    )
    # Work since training; every 10th file has an unexplained 8-month gap.
    gap = 240 if i % 10 == 7 else 0
    first_end = trained + timedelta(days=365 * 3)
    WorkHistory.objects.create(
        file=f,
        employer="Community Medical Group",
        position="Staff physician",
        start=trained + timedelta(days=30),
        end=first_end,
    )
    WorkHistory.objects.create(file=f, employer="This health system", position="Attending",
                               start=first_end + timedelta(days=gap + 1))  # fmt: skip
    f.cme_cycle_start = today - timedelta(days=rng.randint(100, 600))
    f.caqh_id = f"{rng.randint(10_000_000, 99_999_999)}"
    f.health_attested_on = today - timedelta(days=rng.randint(10, 300))
    f.health_attestation_ok = True
    f.save()
    for n in range(rng.randint(4, 12)):
        CmeCredit.objects.create(
            file=f, earned_on=f.cme_cycle_start + timedelta(days=20 + 30 * n),
            hours=rng.choice((2, 4, 6, 8)), title="AMA PRA Category 1 activity",
        )  # fmt: skip
    for element, source in (("licence", f"{state} medical board web site"),
                            ("board", "ABMS Certification Matters"),
                            ("malpractice", "National Practitioner Data Bank")):  # fmt: skip
        Verification.objects.create(
            file=f, element=element, source=source, method="online", verifier=office,
            verified_on=today - timedelta(days=rng.randint(5, 200)),
        )  # fmt: skip


def _privileges(files: list[CredentialFile], today: date) -> None:
    defs: dict[tuple[int, str], PrivilegeDefinition] = {}
    for dept in Department.objects.all():
        for name, kind, minimum, dea, codes in CATALOGUE.get(_kind(dept), []):
            d = PrivilegeDefinition.objects.create(
                department=dept, name=name, kind=kind, min_cases_24m=minimum, requires_dea=dea,
                criteria_training="ACGME-accredited residency in the specialty",
                criteria_certification="Board certified, or eligible within 5 years",
            )  # fmt: skip
            PrivilegeCode.objects.bulk_create(
                PrivilegeCode(privilege=d, source=s, system=sy, code=c) for s, sy, c in codes
            )
            defs[(dept.pk, name)] = d
    for f in files:
        for m in f.practitioner.memberships.all():
            for (dept_id, _), d in defs.items():
                if dept_id == m.department_id:
                    PrivilegeGrant.objects.create(
                        file=f, privilege=d, status=GrantStatus.GRANTED,
                        requested_on=today - timedelta(days=400),
                        granted_on=today - timedelta(days=330),
                        expires=rules.add_months(today - timedelta(days=330), 24),
                        fppe_required=True, fppe_reason="completed after initial appointment",
                    )  # fmt: skip


def _applications(files: list[CredentialFile], applicants: list[CredentialFile], today: date,
                  users: dict[str, Any]) -> None:  # fmt: skip
    """One reappointment in every state, walked there by the roles that take each step."""
    steps = [s for s in AppState.values if s != "received"]
    dept_of = {f.pk: f.practitioner.memberships.first() for f in files}
    chosen = [f for f in files if dept_of[f.pk] is not None][: len(steps) + 1]
    for target, f in zip(["received", *steps], chosen, strict=False):
        app = Application.objects.create(
            file=f, department=dept_of[f.pk].department, kind="reappointment",
            received_on=today - timedelta(days=70), planned_decision=today + timedelta(days=45),
        )  # fmt: skip
        while app.state != target:
            role = services.STEPS[app.state][1][0]
            decision = "approved" if app.state == AppState.BOARD else ""
            services.move(app, users[role], "demo: step completed", decision=decision, today=today)
    # The chair-review one has waited three weeks (target 14 days): overdue.
    Application.objects.filter(state=AppState.CHAIR).update(
        state_since=timezone.now() - timedelta(days=21)
    )
    dept = Department.objects.order_by("code").first()
    for f in applicants:
        Application.objects.create(file=f, department=dept, kind="initial",
                                   planned_decision=today + timedelta(days=60))  # fmt: skip


def _demo_users() -> dict[str, Any]:
    """Users who take the demo's steps (no password: they only sign the history)."""
    from django.contrib.auth.models import Group, User

    from cmo.staff.roles import assign_departments

    users = {}
    for role in ("medical_staff_office", "department_chair", "credentials_committee", "cmo",
                 "board_member"):  # fmt: skip
        user, _ = User.objects.get_or_create(username=f"staff_demo_{role}")
        if not user.has_usable_password():
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    # The walk-through chair chairs every department, so every chair step can be taken.
    assign_departments(
        users["department_chair"], list(Department.objects.values_list("code", flat=True))
    )
    return users


def seed(
    warehouse: Path, *, today: date | None = None, echo: Callable[[str], None] | None = print
) -> dict[str, int]:
    """Seed the staff office from the demo warehouse, then screen the shipped LEIE file.

    Idempotent: a database that already has credential files is left as it is.
    """
    today = today or timezone.localdate()
    if CredentialFile.objects.exists():
        if echo:
            echo("medical staff demo: files already seeded")
        return {}
    rng = random.Random(15)
    added = ensure_directory(warehouse)
    with transaction.atomic():
        users = _demo_users()
        files = []
        for i, p in enumerate(
            Practitioner.objects.filter(source=Source.WAREHOUSE).order_by("code")
        ):
            f = CredentialFile.objects.create(practitioner=p)
            _file(f, rng, today, i, users["medical_staff_office"])
            files.append(f)
        # One expired licence, and one DEA with a bad check digit (as a CAQH feed might bring).
        Licence.objects.filter(file=files[2]).update(expires=today - timedelta(days=12))
        DeaRegistration.objects.filter(file=files[5]).update(
            number=_dea(rng, files[5].practitioner.family_name, good=False)
        )
        applicants = []
        for code, family, given, npi, born in APPLICANTS:
            p, _ = Practitioner.objects.get_or_create(
                code=code, defaults={"name": f"Dr {given} {family}", "family_name": family,
                                     "given_name": given, "npi": npi, "birth_date": born,
                                     "source": Source.MANUAL},
            )  # fmt: skip
            applicants.append(CredentialFile.objects.create(practitioner=p, caqh_id="00000000"))
        _privileges(files, today)
        _applications(files, applicants, today, users)
    held = services.apply_expiry_holds(today)
    run, hits = services.run_screening(leie_file(), None, by="cmo demo", today=today)
    counts = {
        "practitioners_added": added,
        "files": len(files) + len(applicants),
        "privileges": PrivilegeGrant.objects.count(),
        "applications": Application.objects.count(),
        "holds": len(held),
        "screening_hits": len(hits),
    }
    if echo:
        echo(
            f"medical staff demo: {counts['files']} credential files, {counts['privileges']} "
            f"privileges, {counts['applications']} applications, {counts['holds']} privileges "
            f"on hold, {len(hits)} screening match(es) in {leie_file().name}"
        )
    return counts
