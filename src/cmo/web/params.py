r"""Request parameters validated in one place per view: the shared pieces and the core's forms.

Every value is checked for type, range, length and characters before it reaches a door; a bad
one is a 400 with a plain-text message (never the raw input echoed as HTML). Unit, site,
practitioner and patient ids are FHIR ids (FHIR R4 datatype ``id``: ``[A-Za-z0-9\-\.]{1,64}``;
the build writes ``all`` for the system and ``unknown`` for a missing unit, both valid ids).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.http import HttpResponse, HttpResponseBadRequest

FHIR_ID = RegexValidator(
    r"^[A-Za-z0-9\-.]{1,64}$", "must be a FHIR id: 1-64 letters, digits, '-' or '.'"
)


def id_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(max_length=64, validators=[FHIR_ID], strip=False, **kwargs)


def bad_request(message: str) -> HttpResponse:
    """A 400 whose body is the message as plain text (the browser never renders it as HTML)."""
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class ParamsForm(forms.Form):
    """A form over GET parameters whose errors read as one line."""

    def message(self) -> str:
        parts = []
        for field, errors in self.errors.items():
            text = " ".join(str(e) for e in errors)
            parts.append(f"{field}: {text}" if field != "__all__" else text)
        return "bad parameter: " + "; ".join(parts)


class QuarantinePageForm(ParamsForm):
    """``?qpage=`` of the data status page's quarantined lines."""

    qpage = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)


class AccessLogForm(ParamsForm):
    """The access log's filters: a user name (Django's 150 characters), a patient id, a date
    range (inclusive, UTC days), an event kind, an IP address; ``format=csv`` exports."""

    user = forms.CharField(required=False, max_length=150)
    patient = id_field(required=False)
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    event = forms.ChoiceField(required=False, choices=[("", "any")])
    ip = forms.GenericIPAddressField(required=False)
    format = forms.ChoiceField(required=False, choices=[("", "page"), ("csv", "csv")])
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def __init__(self, data: Any) -> None:
        from cmo.web.models import AccessLog

        super().__init__(data)
        self.fields["event"].choices = [("", "any"), *AccessLog.Event.choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError("the end date is before the start date")
        return data

    def clean_user(self) -> str:
        user: str = (self.cleaned_data.get("user") or "").strip()
        if any(ord(c) < 32 for c in user):
            raise forms.ValidationError("must not contain control characters")
        return user


class UnlockForm(forms.Form):
    """An unlock request: a user name, or an IP address throttled across user names."""

    username = forms.CharField(required=False, max_length=150)
    ip = forms.GenericIPAddressField(required=False)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if not data.get("username") and not data.get("ip"):
            raise forms.ValidationError("give a user name or an IP address")
        return data


__all__ = [
    "AccessLogForm",
    "UnlockForm",
    "ParamsForm",
    "QuarantinePageForm",
    "bad_request",
    "id_field",
]
