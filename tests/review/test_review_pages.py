"""The review pages and API: confidentiality of peer review (every role but the committee and
the CMO gets 403 on every peer-review page and endpoint), the access log, the markings,
no-store, a chair's scope, the chair's forms, the OPPE report as HTML and PDF."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cmo.review import services
from cmo.review.models import Fppe, OppeProfile, PeerCase, Trigger

pytestmark = pytest.mark.django_db

ALLOWED = {"cmo", "peer_review_committee"}
DENIED = [
    "board_member",
    "clinician",
    "safety_officer",
    "department_chair",
    "quality_analyst",
    "medical_staff_office",
    "compliance",
    "credentials_committee",
]


@pytest.fixture
def case(people: dict[str, Any]) -> PeerCase:
    return services.open_case(
        people["heart"],
        source="complaint",
        key="k",
        concern="Delayed antibiotics",
        patient_id="pat-9",
    )


def _peer_urls(case: PeerCase) -> list[tuple[str, str]]:
    return [
        ("get", "/review/peer/"),
        ("get", "/review/peer/?show=all"),
        ("get", f"/review/peer/{case.pk}/"),
        ("post", f"/review/peer/{case.pk}/act/"),
        ("get", "/api/review/peer/cases"),
        ("get", f"/api/review/peer/cases/{case.pk}"),
    ]


@pytest.mark.parametrize("role", DENIED)
def test_peer_review_is_403_for_everyone_else(client_for: Any, case: PeerCase, role: str) -> None:
    """Board member, clinician, safety officer, a chair (of another department and of the
    practitioner's own), the office and the others: 403 on every peer-review page and API."""
    from cmo.web.models import AccessLog

    client = client_for(role)
    for method, url in _peer_urls(case):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (role, url)
        assert b"Delayed antibiotics" not in response.content
    assert not AccessLog.objects.filter(filters__review__startswith="peer").exists()


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_committee_and_cmo_see_cases_marked_and_logged(
    client_for: Any, case: PeerCase, role: str
) -> None:
    from cmo.web.models import AccessLog

    client = client_for(role)
    for url in ("/review/peer/", f"/review/peer/{case.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "Confidential peer review document" in response.content.decode()
        assert "no-store" in response["Cache-Control"]
    api = client.get(f"/api/review/peer/cases/{case.pk}").json()
    assert api["marking"] == "Confidential peer review document"
    logged = AccessLog.objects.filter(username=f"r_{role}", filters__review="peer_case")
    assert logged.count() == 2 and logged.first().patient_ids == ["pat-9"]
    assert AccessLog.objects.filter(username=f"r_{role}", via="api").exists()


def test_a_blinded_case_hides_the_name_from_the_committee(client_for: Any, case: PeerCase) -> None:
    committee = client_for("peer_review_committee").get(f"/review/peer/{case.pk}/").content
    assert b"Dr Heart" not in committee and b"(blinded)" in committee
    assert (
        client_for("peer_review_committee")
        .get("/api/review/peer/cases")
        .json()[0]["practitioner_id"]
        is None
    )
    assert b"Dr Heart" in client_for("cmo").get(f"/review/peer/{case.pk}/").content


def test_committee_works_a_case_through_the_pages(
    client_for: Any, case: PeerCase, people: dict[str, Any]
) -> None:
    client = client_for("peer_review_committee")
    page = client.get(f"/review/peer/{case.pk}/").content.decode()
    # The reviewer list offers no one in conflict: never the practitioner under review.
    assert f'value="{people["heart"].pk}"' not in page.split('id="assign-form"')[1]
    bad = client.post(f"/review/peer/{case.pk}/act/", {"op": "assign", "assign-reviewer": "x"})
    assert bad.status_code == 400
    ok = client.post(
        f"/review/peer/{case.pk}/act/", {"op": "assign", "assign-reviewer": people["knife"].pk}
    )
    assert ok.status_code == 302
    a = case.assignments.get()
    client.post(
        f"/review/peer/{case.pk}/act/",
        {
            "op": "score",
            "assignment": a.pk,
            "score-score": 2,
            "score-attribution": "practitioner",
            "score-competency": "patient_care",
            "score-comment": "Antibiotics 5 h late.",
        },
    )
    case.refresh_from_db()
    assert case.status == "committee"
    r = client.post(
        f"/review/peer/{case.pk}/act/",
        {
            "op": "decide",
            "decide-score": 2,
            "decide-attribution": "practitioner",
            "decide-competency": "patient_care",
            "decide-decision": "Letter of education.",
        },
    )
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.status == "closed"
    assert client.post(f"/review/peer/{case.pk}/act/", {"op": "nope"}).status_code == 400


# ---------------------------------------------------------------- OPPE and FPPE pages


@pytest.fixture
def profiles(people: dict[str, Any]) -> dict[str, OppeProfile]:
    rows = [
        {
            "indicator": "30-day readmission (O/E)",
            "kind": "measure",
            "measure_id": "READM30",
            "competency": "Systems-based practice",
            "n": 40,
            "value": 1.6,
            "oe": 1.8,
            "observed": 9.0,
            "expected": 5.0,
            "shrunk": 1.6,
            "shrunk_low": 1.1,
            "shrunk_high": 2.2,
            "peers": 1,
            "peer_oe": 0.9,
            "review_at": 1.25,
            "action_at": 1.5,
            "grade": "action",
            "note": "",
        }
    ]
    out = {}
    for key, dept in (("heart", "car"), ("knife", "sur")):
        out[key] = OppeProfile.objects.create(
            cycle="2024H2",
            practitioner=people[key],
            department=people[dept],
            due=date(2025, 3, 2),
            data=rows,
        )
    return out


def test_a_chair_sees_their_departments_profiles_only(client_for: Any, profiles: Any) -> None:
    chair = client_for("department_chair")
    page = chair.get("/review/?cycle=2024H2").content.decode()
    assert "Dr Heart" in page and "Dr Knife" not in page
    assert chair.get(f"/review/oppe/{profiles['heart'].pk}/").status_code == 200
    assert chair.get(f"/review/oppe/{profiles['knife'].pk}/").status_code == 404
    assert chair.get("/review/practitioner/P-KNIFE/").status_code == 404
    api = chair.get("/api/review/oppe/2024H2").json()
    assert [p["practitioner_id"] for p in api] == ["P-HEART"]
    assert chair.get("/api/review/oppe/2024Q9").status_code == 400
    assert chair.get("/review/?cycle=nonsense").status_code == 400


def test_the_chair_signs_the_oppe_decision(client_for: Any, profiles: Any) -> None:
    from cmo.web.models import AccessLog

    chair = client_for("department_chair")
    url = f"/review/oppe/{profiles['heart'].pk}/"
    page = chair.get(url)
    assert "no-store" in page["Cache-Control"] and b"1.6 (1.1" in page.content
    assert chair.post(url, {"decision": "fppe"}).status_code == 400  # a comment is required
    assert chair.post(url, {"decision": "fppe", "comment": "Readmissions."}).status_code == 302
    profiles["heart"].refresh_from_db()
    assert profiles["heart"].decision == "fppe"
    assert Fppe.objects.filter(trigger=Trigger.OPPE).count() == 1
    assert AccessLog.objects.filter(filters__practitioner="P-HEART").exists()
    # The office sees profiles but does not sign.
    office = client_for("medical_staff_office")
    assert office.get(url).status_code == 200
    assert office.post(url, {"decision": "continue", "comment": "x"}).status_code == 403


def test_oppe_report_html_and_pdf(client_for: Any, profiles: Any) -> None:
    client = client_for("cmo")
    html = client.get(f"/review/oppe/{profiles['heart'].pk}/report/")
    assert html.status_code == 200 and b"OPPE report 2024H2" in html.content
    pdf = client.get(f"/review/oppe/{profiles['heart'].pk}/report.pdf")
    if pdf.status_code == 501:
        pytest.skip("WeasyPrint or pango not installed here")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_fppe_pages_accept_and_complete(client_for: Any, people: Any, grant: Any) -> None:
    f = Fppe.objects.create(
        practitioner=people["heart"],
        department=people["car"],
        trigger=Trigger.SIGNAL,
        measure_id="READM30",
        key="s",
        evidence={"why": "outside the funnel's 99.8% limits"},
    )
    chair = client_for("department_chair")
    page = chair.get(f"/review/fppe/{f.pk}/")
    assert b"outside the funnel" in page.content and b"accept-form" in page.content
    act = f"/review/fppe/{f.pk}/act/"
    assert (
        chair.post(
            act, {"op": "accept", "accept-method": "retrospective", "accept-criteria": "c"}
        ).status_code
        == 400
    )
    assert (
        chair.post(
            act,
            {
                "op": "accept",
                "accept-method": "retrospective",
                "accept-cases_required": 3,
                "accept-criteria": "c",
            },
        ).status_code
        == 302
    )
    assert chair.post(act, {"op": "progress", "progress-cases": 3}).status_code == 302
    r = chair.post(act, {"op": "close", "close-outcome": "revoke", "close-comment": "Unsafe."})
    assert r.status_code == 302
    f.refresh_from_db()
    grant.refresh_from_db()
    assert (f.status, f.cases_reviewed, grant.status) == ("closed", 3, "suspended_pending")
    assert chair.post(act, {"op": "bogus"}).status_code == 400
    assert client_for("medical_staff_office").post(act, {"op": "progress"}).status_code == 403
    assert chair.get("/review/fppe/?status=weird").status_code == 400
    rows = chair.get("/api/review/fppe?status=closed").json()
    assert rows[0]["trigger"] == {"kind": "outcome_signal", "measure": "READM30"}


def test_timeline_orders_the_practitioners_story(
    client_for: Any, people: Any, grant: Any, case: PeerCase, profiles: Any
) -> None:
    services.fppe_for_new_privileges()
    cmo = client_for("cmo").get("/review/practitioner/P-HEART/").content.decode()
    for text in ("TAVR", "OPPE 2024H2", "Newly granted privilege", "Peer review"):
        assert text in cmo
    chair = client_for("department_chair").get("/review/practitioner/P-HEART/").content.decode()
    assert "TAVR" in chair and "Peer review</td>" not in chair  # cases only for those allowed


def test_a_chair_edits_their_departments_indicators(client_for: Any, people: Any) -> None:
    """Given the chair of cardiology, when they add a manual indicator to cardiology it is
    listed; surgery is not theirs to edit (a form error); retiring hides it."""
    from cmo.review.models import Indicator

    chair = client_for("department_chair")
    page = chair.get("/review/indicators/")
    assert page.status_code == 200 and b"In-hospital mortality" in page.content
    assert b"Surgery" not in page.content.split(b'id="indicator-form"')[1]
    add = {
        "op": "add",
        "kind": "manual",
        "label": "Documentation audit (% compliant)",
        "competency": "professionalism",
        "higher_is_worse": "",
        "review_at": 80,
        "action_at": 70,
    }
    bad = chair.post("/review/indicators/", {**add, "department": people["sur"].pk})
    assert bad.status_code == 400
    assert (
        chair.post(
            "/review/indicators/", {**add, "kind": "measure", "department": people["car"].pk}
        ).status_code
        == 400
    )
    ok = chair.post("/review/indicators/", {**add, "department": people["car"].pk})
    assert ok.status_code == 302
    ind = Indicator.objects.get(label__startswith="Documentation")
    assert ind.department == people["car"] and ind.history.first().history_user is not None
    assert client_for("medical_staff_office").get("/review/indicators/").status_code == 403
    client_for("department_chair")
    chair.post("/review/indicators/", {"op": "retire", "id": ind.pk})
    ind.refresh_from_db()
    assert not ind.active


def test_a_manual_value_is_graded_into_the_profile(
    client_for: Any, people: Any, profiles: Any
) -> None:
    from cmo.review.models import Indicator, ManualValue

    ind = Indicator.objects.create(
        department=people["car"],
        kind="manual",
        label="Audit",
        competency="professionalism",
        higher_is_worse=False,
        review_at=80,
        action_at=70,
    )
    chair = client_for("department_chair")
    url = f"/review/oppe/{profiles['heart'].pk}/"
    assert b"manual-form" in chair.get(url).content
    r = chair.post(f"{url}value/", {"manual-indicator": ind.pk, "manual-value": "65"})
    assert r.status_code == 302
    profiles["heart"].refresh_from_db()
    row = next(r for r in profiles["heart"].data if r.get("indicator_id") == ind.pk)
    assert row["value"] == 65 and row["grade"] == "action"
    assert ManualValue.objects.get().value == 65
    # Another department's profile is not the chair's (404), nor the indicator's.
    other = f"/review/oppe/{profiles['knife'].pk}/value/"
    assert chair.post(other, {"manual-indicator": ind.pk, "manual-value": "1"}).status_code == 404
