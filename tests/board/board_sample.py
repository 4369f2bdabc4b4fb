"""Test data of the board tests (not shipped in src): the quarter, the demo's people, and
app-database rows that name real demo patients and practitioners."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

QUARTER = "2024-Q4"  # the demo build's latest complete quarter (24 months from 2023-01)
START = date(2024, 10, 1)


def demo_people() -> dict[str, list[dict[str, Any]]]:
    """Every patient and practitioner of the demo build: ids, names, NPIs."""
    from demo_warehouse import read_table

    patients = read_table("fhir__patient")[["id", "family", "given"]].to_dict("records")
    pracs = read_table("fhir__practitioner")[["id", "family", "given", "npi"]].to_dict("records")
    return {"patients": patients, "practitioners": pracs}


def _aware(d: date, hour: int = 10) -> datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime(d.year, d.month, d.day, hour))


def make_app_rows() -> dict[str, Any]:
    """Safety events and credential files of the quarter that carry demo names and ids.

    Three falls (a count the report must suppress), fourteen medication events (shown), one
    sentinel event with an RCA² plan done on time, actions of two strengths; practitioners named
    as in the demo with a credential file each, two expired licences, applications decided in
    the quarter, one screening run.
    """
    from cmo.directory.models import Department, Practitioner, Site, Unit
    from cmo.safety import models as sm
    from cmo.staff import models as st

    people = demo_people()
    site, _ = Site.objects.get_or_create(code="org-h1", defaults={"name": "Riverside"})
    dept, _ = Department.objects.get_or_create(
        code="org-h1-cardiology", defaults={"name": "Cardiology", "site": site}
    )
    unit, _ = Unit.objects.get_or_create(code="loc-h1-med", defaults={"name": "Med", "site": site})
    pracs = []
    for p in people["practitioners"][:6]:
        pracs.append(
            Practitioner.objects.create(
                code=p["id"],
                name=f"Dr. {p['given']} {p['family']}",
                family_name=p["family"],
                given_name=p["given"],
                npi=p["npi"],
            )
        )
    patient = people["patients"][0]
    events = []
    for i, (etype, harm, n) in enumerate((("fall", "mild", 3), ("medication", "none", 14))):
        for k in range(n):
            e = sm.Event.objects.create(
                reported_at=_aware(START + timedelta(days=5 + k)),
                occurred_at=_aware(START + timedelta(days=4 + k)),
                event_type=etype,
                category="incident",
                harm=harm,
                site=site,
                unit=unit,
                department=dept,
                patient_id=patient["id"],
                description=f"{patient['given']} {patient['family']} event {i}-{k}",
            )
            e.practitioners.set(pracs[:2])
            events.append(e)
    sentinel = events[0]
    sentinel.sentinel = True
    sentinel.classified_at = _aware(START + timedelta(days=6))
    sentinel.team_due = sentinel.classified_at + timedelta(hours=72)
    sentinel.analysis_due = START + timedelta(days=70)
    sentinel.save()
    inv = sm.Investigation.objects.create(
        event=sentinel,
        team=f"{pracs[0].name} – lead",
        team_formed_at=sentinel.classified_at + timedelta(hours=20),
        plan_completed_at=_aware(START + timedelta(days=40)),
        started_at=_aware(START + timedelta(days=6)),
    )
    for kind in ("forcing", "training", "checklist"):
        sm.Action.objects.create(
            investigation=inv,
            description=f"{kind} by {pracs[1].name}",
            kind=kind,
            owner=pracs[1].name,
            due=START + timedelta(days=80),
            measure_kind="safety",
            measure_id="fall",
        )
    for n, prac in enumerate(pracs):
        f = st.CredentialFile.objects.create(practitioner=prac)
        st.Licence.objects.create(
            file=f,
            state="TX",
            number=f"L{n}",
            expires=date(2024, 11, 30) if n < 2 else date(2027, 1, 1),
        )
        st.Application.objects.create(
            file=f,
            department=dept,
            kind="reappointment" if n % 2 else "initial",
            received_on=START - timedelta(days=60 if n < 5 else 200),
            decision="approved",
            decided_on=START + timedelta(days=10),
        )
    run = st.ScreeningRun.objects.create(
        by="cli", leie_name="UPDATED.csv", leie_sha256="0" * 64, practitioners=len(pracs), ok=True
    )
    st.ScreeningRun.objects.filter(pk=run.pk).update(started=_aware(START + timedelta(days=3)))
    return {"practitioners": pracs, "patient": patient, "events": events}
