"""The report form: every rule has one clear message, a rejected form keeps what was typed,
a valid one saves the report with its patient link (access-logged)."""

from __future__ import annotations

from typing import Any

import pytest
from safety_helpers import MRN, report_data

from cmo.safety.forms import ReportForm
from cmo.safety.models import Event
from cmo.web.models import AccessLog

pytestmark = pytest.mark.django_db


def _errors(directory: dict[str, Any], **over: Any) -> dict[str, list[str]]:
    form = ReportForm(data=report_data(directory, **over))
    assert not form.is_valid()
    return {k: list(v) for k, v in form.errors.items()}


def test_a_valid_report_is_valid(directory: dict[str, Any]) -> None:
    form = ReportForm(data=report_data(directory))
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"harm": ""}, "harm", "An incident reached the patient"),
        ({"category": "near_miss", "harm": "severe"}, "harm", "did not reach the patient"),
        ({"event_type": "medication"}, "merp", "needs its NCC MERP category"),
        ({"merp": "C"}, "merp", "for medication events only"),
        (
            {"event_type": "medication", "category": "near_miss", "harm": "", "merp": "E"},
            "merp",
            "(that is category B)",
        ),
        ({"event_type": "medication", "merp": "I", "harm": "severe"}, "merp", "go together"),
        ({"event_type": "medication", "merp": "C", "harm": "moderate"}, "merp", "means no harm"),
        ({"event_type": "medication", "merp": "F", "harm": "none"}, "merp", "means harm"),
        ({"occurred_at": "2099-01-01T10:00"}, "occurred_at", "in the future"),
        ({"occurred_at": "2001-01-01T10:00"}, "occurred_at", "more than 5 years ago"),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time"),
        ({"description": ""}, "description", "required"),
        ({"unit": ""}, "unit", "required"),
        ({"lookup_value": "NOPE"}, "lookup_value", "No patient with MRN “NOPE” found"),
    ],
)
def test_each_rule_has_a_clear_message(
    directory: dict[str, Any], safety_warehouse: Any, over: dict[str, Any], field: str, text: str
) -> None:
    errors = _errors(directory, **over)
    assert field in errors, errors
    assert any(text in e for e in errors[field]), errors[field]


def test_medication_error_that_fits_is_valid(directory: dict[str, Any]) -> None:
    form = ReportForm(
        data=report_data(directory, event_type="medication", merp="E", harm="moderate")
    )
    assert form.is_valid(), form.errors


def test_a_bad_field_loses_nothing_typed(client_for: Any, directory: dict[str, Any]) -> None:
    client = client_for("clinician")
    data = report_data(
        directory,
        harm="",
        description="Wrong-site marking caught at time-out — typed carefully",
        location_detail="OR 7",
        practitioners=[directory["pr1"].pk],
    )
    r = client.post("/safety/", data)
    assert r.status_code == 200
    page = r.content.decode()
    assert "An incident reached the patient: choose the harm" in page
    assert "nothing you typed was lost" in page
    assert "Wrong-site marking caught at time-out — typed carefully" in page
    assert 'value="OR 7"' in page
    assert f'value="{directory["pr1"].pk}" selected' in page
    assert 'value="incident" id="id_category_0" checked' in page or "checked" in page
    assert Event.objects.count() == 0


def test_a_report_links_the_patient_and_logs_the_lookup(
    client_for: Any, role_users: dict[str, Any], directory: dict[str, Any], safety_warehouse: Any
) -> None:
    client = client_for("clinician")
    r = client.post(
        "/safety/", report_data(directory, lookup_value=MRN, practitioners=[directory["pr1"].pk])
    )
    assert r.status_code == 302 and r["Location"] == "/safety/mine/"
    e = Event.objects.get()
    assert (e.patient_id, e.reporter, e.anonymous) == ("P1", role_users["clinician"], False)
    assert e.department == directory["car"]  # the practitioner's department
    assert e.site == directory["site"]
    log = AccessLog.objects.get(filters__view="safety report: patient lookup")
    assert log.username == "t_clinician" and log.patient_ids == ["P1"]


def test_an_encounter_links_the_stay_and_its_department(
    client_for: Any, directory: dict[str, Any], safety_warehouse: Any
) -> None:
    r = client_for("clinician").post(
        "/safety/", report_data(directory, lookup_kind="encounter", lookup_value="E1")
    )
    assert r.status_code == 302
    e = Event.objects.get()
    assert (e.patient_id, e.stay_id, e.department.code) == ("P1", "E1", "D-SUR")
