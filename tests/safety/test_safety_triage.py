"""Triage: the queue's order, de-duplication, closing with feedback to the reporter, just-culture
routing (RCA² or peer review, both only explicitly), the referral interface, EHR events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmo.safety import interface, services
from cmo.safety.models import Event, Investigation, Referral

pytestmark = pytest.mark.django_db


def test_queue_orders_by_harm_then_serious_then_age(client_for: Any, make_event: Any) -> None:
    now = datetime.now(UTC)
    mild_old = make_event(harm="mild", reported_at=now - timedelta(days=9))
    none_new = make_event(category="near_miss", harm="none")
    severe = make_event(harm="severe", reported_at=now - timedelta(days=1))
    mild_sentinel = make_event(harm="mild", sentinel=True)
    page = client_for("safety_officer").get("/safety/queue/").content.decode()
    order = [page.index(e.reference) for e in (severe, mild_sentinel, mild_old, none_new)]
    assert order == sorted(order)


def test_merge_moves_the_duplicate_out_of_the_queue(
    client_for: Any, make_event: Any, directory: Any
) -> None:
    a = make_event()
    b = make_event(patient_id="P9", practitioners=[directory["pr2"]])
    client = client_for("safety_officer")
    r = client.post(f"/safety/event/{b.pk}/triage/", {"op": "merge", "into": a.reference})
    assert r.status_code == 302
    b.refresh_from_db()
    a.refresh_from_db()
    assert b.status == "merged" and b.merged_into == a
    assert a.patient_id == "P9" and directory["pr2"] in a.practitioners.all()
    queue = client.get("/safety/queue/").content.decode()
    assert a.reference in queue and b.reference not in queue
    # Merging into an unknown or merged report is refused with a message.
    r = client.post(
        f"/safety/event/{a.pk}/triage/", {"op": "merge", "into": "SE-999999"}, follow=True
    )
    assert "No open report SE-999999" in r.content.decode()


def test_closing_message_reaches_the_reporters_of_the_event_and_its_duplicates(
    client_for: Any, role_users: dict[str, Any], make_event: Any
) -> None:
    clin = role_users["clinician"]
    a = make_event(reporter=clin)
    b = make_event(reporter=role_users["quality_analyst"])
    services.merge(b, a, by=role_users["safety_officer"])
    msg = "Bed alarms are now on for every fall-risk patient; thank you for reporting."
    client_for("safety_officer").post(
        f"/safety/event/{a.pk}/triage/", {"op": "close", "closing_message": msg}
    )
    a.refresh_from_db()
    assert a.status == "closed" and a.closing_message == msg
    assert msg in client_for("clinician").get("/safety/mine/").content.decode()
    assert msg in client_for("quality_analyst").get("/safety/mine/").content.decode()
    # The history records who closed it.
    assert a.history.first().history_user == role_users["safety_officer"]


def test_system_route_opens_rca_and_no_referral(client_for: Any, make_event: Any) -> None:
    e = make_event()
    client_for("safety_officer").post(
        f"/safety/event/{e.pk}/triage/",
        {"op": "route", "route": "system", "reason": "Bed alarm not available on the ward."},
    )
    e.refresh_from_db()
    assert e.route == "system" and e.status == "investigating"
    assert Investigation.objects.filter(event=e).exists()
    assert not Referral.objects.exists()


def test_individual_route_files_a_referral_and_no_rca(
    client_for: Any, make_event: Any, directory: Any
) -> None:
    e = make_event(practitioners=[directory["pr1"]])
    client = client_for("safety_officer")
    # A referral needs the concern.
    r = client.post(
        f"/safety/event/{e.pk}/triage/",
        {"op": "route", "route": "individual", "reason": "x"},
        follow=True,
    )
    assert "needs the concern" in r.content.decode()
    assert not Referral.objects.exists()
    client.post(
        f"/safety/event/{e.pk}/triage/",
        {
            "op": "route",
            "route": "individual",
            "reason": "Repeated protocol deviation despite working systems.",
            "practitioner": directory["pr1"].pk,
            "concern": "Skipped the time-out twice this month.",
        },
    )
    assert not Investigation.objects.filter(event=e).exists()
    [ref] = interface.referrals_for_review()
    assert (ref.event_reference, ref.practitioner_code) == (e.reference, "PR1")
    assert ref.concern == "Skipped the time-out twice this month."
    interface.mark_received(ref.referral_id)
    assert interface.referrals_for_review() == []
    assert len(interface.referrals_for_review(pending_only=False)) == 1


def test_both_routes_only_when_chosen(client_for: Any, make_event: Any) -> None:
    e = make_event()
    client_for("safety_officer").post(
        f"/safety/event/{e.pk}/triage/",
        {
            "op": "route",
            "route": "both",
            "reason": "System gap and a reckless act.",
            "concern": "c",
        },
    )
    assert (
        Investigation.objects.filter(event=e).exists() and Referral.objects.filter(event=e).exists()
    )


def test_referrals_are_confidential(client_for: Any, make_event: Any, role_users: Any) -> None:
    e = make_event(reporter=role_users["clinician"], department=None)
    services.route(
        e, route="individual", reason="r", practitioner=None, concern="Secret concern", by=None
    )
    assert "Secret concern" in client_for("cmo").get("/safety/referrals/").content.decode()
    assert client_for("safety_officer").get("/safety/referrals/").status_code == 403
    officer_view = client_for("safety_officer").get(f"/safety/event/{e.pk}/").content.decode()
    assert "Referred to peer review" in officer_view and "Secret concern" not in officer_view
    reporter_view = client_for("clinician").get(f"/safety/event/{e.pk}/")
    assert reporter_view.status_code == 200
    assert "peer review" not in reporter_view.content.decode().lower()


ADVERSE_EVENT = {
    "resourceType": "AdverseEvent",
    "id": "ae-1",
    "actuality": "actual",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/adverse-event-category",
                    "code": "medication-mishap",
                }
            ]
        }
    ],
    "event": {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "217082002", "display": "Accidental fall"}
        ],
        "text": "Fall",
    },
    "subject": {"reference": "Patient/P1"},
    "encounter": {"reference": "Encounter/E1"},
    "date": "2024-05-02T08:15:00Z",
    "recordedDate": "2024-05-02T09:00:00+01:00",
    "location": {"reference": "Location/U-ICU"},
    "seriousness": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                "code": "serious",
            }
        ]
    },
}


def test_ehr_adverse_event_is_ingested_and_queued(
    tmp_path: Path, client_for: Any, directory: Any, settings: Any
) -> None:
    from cmo.fhir.ingest import ingest
    from cmo.measures.safety import read
    from cmo.warehouse import connect

    f = tmp_path / "AdverseEvent.ndjson"
    f.write_text(json.dumps(ADVERSE_EVENT) + "\n")
    path = tmp_path / "wh.duckdb"
    wh = connect(path)
    try:
        result = ingest([f], wh, progress=False)
        assert result.quarantined == 0
        [row] = wh.table("fhir__adverse_event").to_pyarrow().to_pylist()
    finally:
        wh.close()
    assert row["event_display"] == "Accidental fall" and row["subject_id"] == "P1"
    assert row["seriousness_code"] == "serious" and row["location_id"] == "U-ICU"
    assert str(row["recorded_date_ts"]) == "2024-05-02 08:00:00"  # offset normalised to UTC
    wh = connect(path, read_only=True)
    try:
        events = read(wh).adverse_events
    finally:
        wh.close()
    assert services.import_ehr_events(events) == 1
    assert services.import_ehr_events(events) == 0  # once per AdverseEvent
    e = Event.objects.get(ehr_id="ae-1")
    assert (e.source, e.harm, e.category, e.unit, e.patient_id) == (
        "ehr",
        "moderate",
        "incident",
        directory["icu"],
        "P1",
    )
    page = client_for("safety_officer").get("/safety/queue/").content.decode()
    assert e.reference in page and '<span class="pill ehr">EHR</span>' in page


def test_the_sync_queues_ehr_adverse_events_by_their_code(
    tmp_path: Path, directory: Any, settings: Any
) -> None:
    """Given an export with an AdverseEvent coded SNOMED CT 217082002 (accidental fall), when
    the sync's two halves run (the warehouse reader, then the safety domain's apply), then the
    queue holds one EHR fall event on its unit, and a second sync adds nothing."""
    from dataclasses import asdict

    from cmo.fhir.ingest import ingest
    from cmo.measures.safety import read
    from cmo.safety.sync import apply_payload
    from cmo.warehouse import connect

    f = tmp_path / "AdverseEvent.ndjson"
    f.write_text(json.dumps(ADVERSE_EVENT) + "\n")
    wh = connect(tmp_path / "wh.duckdb")
    try:
        ingest([f], wh, progress=False)
        payload = asdict(read(wh))
    finally:
        wh.close()
    assert apply_payload(payload).startswith("1 new EHR adverse event(s)")
    assert apply_payload(payload).startswith("0 new")
    e = Event.objects.get(ehr_id="ae-1")
    assert (e.source, e.event_type, e.unit) == ("ehr", "fall", directory["icu"])


def test_ehr_event_type_reads_the_code_system() -> None:
    """The same code in another system is not a fall: codes are read by their system."""
    assert services.ehr_event_type("http://snomed.info/sct", "217082002") == "fall"
    assert services.ehr_event_type("http://hl7.org/fhir/sid/icd-10-cm", "W19.XXXA") == "fall"
    assert services.ehr_event_type("http://hl7.org/fhir/sid/icd-10-cm", "L89.154") == (
        "pressure_injury"
    )
    assert services.ehr_event_type("http://loinc.org", "217082002") == "other"
    assert services.ehr_event_type(None, None) == "other"
