"""The board's request parameters and the CMO's summary form (one place per view)."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from cmo.board import deid
from cmo.web.params import ParamsForm, id_field

PERIOD = RegexValidator(r"^\d{4}-Q[1-4]$", "must be a quarter written YYYY-QN, e.g. 2024-Q4")


class ReportParams(ParamsForm):
    """``?period=2024-Q4&site=CODE`` (both optional: the latest complete quarter, all sites)."""

    period = forms.CharField(required=False, max_length=7, validators=[PERIOD])
    site = id_field(required=False)


class DepartmentParams(ParamsForm):
    period = forms.CharField(required=False, max_length=7, validators=[PERIOD])
    department = id_field(required=False)


class SummaryForm(forms.Form):
    """The CMO's summary: one sentence a line, plain text, at most 20 lines."""

    period = forms.CharField(max_length=7, validators=[PERIOD])
    site = id_field(required=False)
    summary = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One sentence a line. No names, no full dates (the report is de-identified).",
    )

    def clean_summary(self) -> str:
        text: str = self.cleaned_data["summary"].replace("\r\n", "\n")
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if not lines:
            raise forms.ValidationError("write at least one sentence")
        if len(lines) > 20:
            raise forms.ValidationError("at most 20 sentences")
        if any(ord(c) < 32 and c != "\n" for c in text):
            raise forms.ValidationError("must not contain control characters")
        if deid.FULL_DATE.search(text):
            raise forms.ValidationError("give dates to the month (YYYY-MM), not the day")
        return "\n".join(lines)


class PublishForm(forms.Form):
    period = forms.CharField(max_length=7, validators=[PERIOD])
    site = id_field(required=False)
