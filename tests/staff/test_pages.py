"""Pages doing the office's work: verification with a document, holds, screening reviews,
privileges with case volume read from a real DuckDB warehouse."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cmo.staff.models import (
    GrantStatus,
    Licence,
    PrivilegeCode,
    PrivilegeDefinition,
    PrivilegeGrant,
    ScreeningMatch,
    Verification,
)

PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _verify(client: Any, file_id: int, document: Any) -> Any:
    return client.post(
        f"/staff/file/{file_id}/verify/",
        {
            "element": "licence",
            "source": "Texas Medical Board",
            "verified_on": timezone.localdate().isoformat(),
            "method": "online",
            "result": "verified",
            "document": document,
            "note": "",
        },
    )


def test_verification_recorded_with_its_document(
    client_for: Any, staff: dict[str, Any], settings: Any
) -> None:
    office = client_for("medical_staff_office")
    upload = SimpleUploadedFile("tmb.pdf", PDF, content_type="application/pdf")
    response = _verify(office, staff["pr1"].pk, upload)
    assert response.status_code == 302
    v = Verification.objects.get()
    assert v.verifier.username == "s_medical_staff_office" and v.source == "Texas Medical Board"
    stored = Path(settings.MEDIA_ROOT) / v.document.name
    assert stored.read_bytes() == PDF and v.document.name.startswith("staff/verifications/")
    page = office.get(f"/staff/file/{staff['pr1'].pk}/").content.decode()
    assert "Texas Medical Board" in page and "s_medical_staff_office" in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", b"MZ\x90\x00", "only PDF, PNG or JPEG"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "not a PDF file"),
    ],
)
def test_bad_documents_are_refused_with_a_message(
    client_for: Any, staff: dict[str, Any], name: str, content: bytes, message: str
) -> None:
    office = client_for("medical_staff_office")
    response = _verify(office, staff["pr1"].pk, SimpleUploadedFile(name, content))
    assert response.status_code == 400 and message in response.content.decode()
    assert not Verification.objects.exists()


def test_oversized_document_refused(client_for: Any, staff: dict[str, Any]) -> None:
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (10 * 1024 * 1024))
    response = _verify(client_for("medical_staff_office"), staff["pr1"].pk, big)
    assert response.status_code == 400 and "larger than 10 MB" in response.content.decode()


def test_committee_reads_but_cannot_record(client_for: Any, staff: dict[str, Any]) -> None:
    committee = client_for("credentials_committee")
    assert (
        "Record a verification"
        not in committee.get(f"/staff/file/{staff['pr1'].pk}/").content.decode()
    )
    upload = SimpleUploadedFile("tmb.pdf", PDF)
    assert _verify(committee, staff["pr1"].pk, upload).status_code == 403


def test_queue_shows_expired_licence_and_office_confirms_the_hold(
    client_for: Any, staff: dict[str, Any]
) -> None:
    from cmo.staff.services import apply_expiry_holds

    today = timezone.localdate()
    core = PrivilegeDefinition.objects.create(department=staff["car"], name="Core cardiology")
    grant = PrivilegeGrant.objects.create(file=staff["pr1"], privilege=core, status="granted")
    Licence.objects.create(file=staff["pr1"], state="TX", number="L9", expires=today - timedelta(3))
    apply_expiry_holds(today)
    office = client_for("medical_staff_office")
    html = office.get("/staff/").content.decode()
    assert "TX MD licence L9" in html and "expired" in html and "Core cardiology" in html
    assert "monthly screening due" in html  # no completed screening run yet
    r = office.post(f"/staff/hold/{grant.pk}/", {"decision": "confirm", "reason": "lapsed"})
    assert r.status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.SUSPENDED
    # Without a reason nothing changes.
    grant.status = GrantStatus.HOLD
    grant.save()
    office.post(f"/staff/hold/{grant.pk}/", {"decision": "clear", "reason": ""})
    grant.refresh_from_db()
    assert grant.status == GrantStatus.HOLD


def test_screening_page_review_clears_a_possible_match(
    client_for: Any, staff: dict[str, Any], leie: Path
) -> None:
    from cmo.staff.services import run_screening

    run_screening(leie, None, by="test")
    assert (
        "monthly screening due"
        not in client_for("medical_staff_office").get("/staff/").content.decode()
    )
    compliance = client_for("compliance")
    html = compliance.get("/staff/screening/").content.decode()
    assert "completed" in html and "Name only" in html and "STENNT" in html
    possible = ScreeningMatch.objects.get(match_on="name")
    r = compliance.post(
        f"/staff/screening/match/{possible.pk}/", {"decision": "clear", "reason": "other DOB"}
    )
    assert r.status_code == 302
    possible.refresh_from_db()
    assert possible.review == "cleared" and possible.reviewer.username == "s_compliance"
    runs = compliance.get("/api/staff/screening/runs").json()
    matches = compliance.get(f"/api/staff/screening/runs/{runs[0]['id']}/matches").json()
    assert {m["match_on"] for m in matches} == {"npi", "name_dob", "name"}


def _volume_warehouse(path: Path) -> Path:
    from cmo.warehouse import connect

    wh = connect(path)
    recent, old = date.today() - timedelta(days=100), date.today() - timedelta(days=1000)
    wh.write(
        "fhir__procedure",
        pa.table(
            {
                "id": ["x1", "x2", "x3", "x4"],
                "status": ["completed", "completed", "completed", "not-done"],
                "performed_date_time_date": [recent, recent, old, recent],
                "performed_period_start_date": pa.array([None] * 4, pa.date32()),
            }
        ),
    )
    wh.write(
        "fhir__procedure_coding",
        pa.table(
            {
                "procedure_id": ["x1", "x1", "x2", "x3", "x4"],
                "system": [PCS] * 5,
                "code": ["0SRC0J9", "0SRB019", "0SRD0J9", "0SRC0J9", "0SRC0J9"],
            }
        ),
    )
    wh.write(
        "fhir__procedure_performer",
        pa.table(
            {
                "procedure_id": ["x1", "x2", "x3", "x4"],
                "actor_type": ["Practitioner"] * 4,
                "actor_id": ["pr2", "pr2", "pr2", "pr2"],
            }
        ),
    )
    wh.close()
    return path


def test_privileges_page_counts_cases_and_flags_none(
    client_for: Any, staff: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    settings.WAREHOUSE = _volume_warehouse(tmp_path / "wh.duckdb")
    joints = PrivilegeDefinition.objects.create(
        department=staff["sur"], name="Joint replacement", kind="special", min_cases_24m=5
    )
    PrivilegeCode.objects.create(privilege=joints, source="procedure", system=PCS, code="0SR*")
    knife = PrivilegeGrant.objects.create(file=staff["pr2"], privilege=joints, status="granted")
    PrivilegeGrant.objects.create(file=staff["pr1"], privilege=joints, status="granted")
    assert knife.fppe_required and "new privilege" in knife.fppe_reason
    html = client_for("medical_staff_office").get("/staff/privileges/D-SUR/").content.decode()
    # x1 (two matching codes, one case) + x2 in the window; x3 too old, x4 not done.
    assert '>2 <span class="badge local">below minimum</span>' in html
    assert '>0 <span class="badge local">no cases</span>' in html
    assert "procedure 0SR*" in html


def test_office_adds_elements_and_a_bad_dea_is_refused(
    client_for: Any, staff: dict[str, Any]
) -> None:
    from cmo.staff.models import DeaRegistration

    office = client_for("medical_staff_office")
    url = f"/staff/file/{staff['pr1'].pk}/add/dea/"
    data = {"dea-number": "AH1234567", "dea-state": "TX", "dea-schedules": "2,3",
            "dea-expires": "2027-01-31"}  # fmt: skip
    refused = office.post(url, data)
    assert refused.status_code == 400 and "not a valid DEA number" in refused.content.decode()
    assert not DeaRegistration.objects.exists()
    assert office.post(url, {**data, "dea-number": "AH1234563"}).status_code == 302
    dea = DeaRegistration.objects.get()
    assert dea.file == staff["pr1"] and dea.history.first().history_user.username == (
        "s_medical_staff_office"
    )
    work = {"work-employer": "Mercy", "work-position": "Attending", "work-start": "2020-01-01"}
    assert office.post(f"/staff/file/{staff['pr1'].pk}/add/work/", work).status_code == 302
    assert office.post(f"/staff/file/{staff['pr1'].pk}/add/nope/", {}).status_code == 404
    assert client_for("credentials_committee").post(url, data).status_code == 403


def test_screening_run_from_the_page_and_a_bad_file_fails_loudly(
    client_for: Any, staff: dict[str, Any], leie: Path
) -> None:
    from cmo.staff.models import ScreeningRun

    office = client_for("medical_staff_office")
    upload = SimpleUploadedFile("UPDATED.csv", leie.read_bytes())
    page = office.post("/staff/screening/run/", {"leie": upload}, follow=True).content.decode()
    assert "Screened 3 practitioners: 4 match(es)." in page
    run = ScreeningRun.objects.get()
    assert run.ok and run.by == "s_medical_staff_office" and run.leie_name == "UPDATED.csv"
    bad = SimpleUploadedFile("UPDATED.csv", b"")
    page = office.post("/staff/screening/run/", {"leie": bad}, follow=True).content.decode()
    assert "Screening not run, nobody was marked clear: The submitted file is empty." in page
    empty_header = SimpleUploadedFile("UPDATED.csv", b"LASTNAME\n")
    page = office.post("/staff/screening/run/", {"leie": empty_header}, follow=True)
    assert "Screening failed, nobody was marked clear" in page.content.decode()
    assert ScreeningRun.objects.filter(ok=False).count() >= 1
    assert client_for("compliance").post("/staff/screening/run/", {}).status_code == 403


def test_packet_as_pdf(client_for: Any, staff: dict[str, Any]) -> None:
    pytest.importorskip("weasyprint", reason="the pdf extra is not installed")
    from cmo.web.models import AccessLog

    Licence.objects.create(file=staff["pr1"], state="TX", number="L77", expires=date(2030, 1, 1))
    response = client_for("credentials_committee").get(f"/staff/file/{staff['pr1'].pk}/packet.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and len(response.content) > 2000
    assert AccessLog.objects.filter(
        filters__packet="1", username="s_credentials_committee"
    ).exists()


def test_admin_edits_files_and_code_lists(client: Any, staff: dict[str, Any]) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="!"))
    Licence.objects.create(file=staff["pr1"], state="TX", number="L1", expires=date(2030, 1, 1))
    page = client.get(f"/admin/staff/credentialfile/{staff['pr1'].pk}/change/")
    assert page.status_code == 200 and "L1" in page.content.decode()
    assert client.get("/admin/staff/privilegedefinition/add/").status_code == 200
