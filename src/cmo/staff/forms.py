from __future__ import annotations

from django import forms

from cmo.staff.models import (
    BoardCertification,
    CmeCredit,
    DeaRegistration,
    Education,
    Licence,
    MalpracticeClaim,
    MalpracticePolicy,
    Verification,
    WorkHistory,
)

# The file's elements the office adds from the file page: kind -> (model, label).
ELEMENTS: dict[str, tuple[type[forms.models.Model], str]] = {
    "licence": (Licence, "State licence"),
    "dea": (DeaRegistration, "DEA registration"),
    "board": (BoardCertification, "Board certification"),
    "malpractice": (MalpracticePolicy, "Malpractice policy"),
    "claim": (MalpracticeClaim, "Malpractice claim"),
    "education": (Education, "Education or training"),
    "work": (WorkHistory, "Work history"),
    "cme": (CmeCredit, "CME credit"),
}


def element_form(kind: str) -> type[forms.ModelForm]:
    """A form for one element kind: every field but the file, dates as date pickers."""
    model = ELEMENTS[kind][0]
    dates = {
        f.name: forms.DateInput(attrs={"type": "date"})
        for f in model._meta.fields
        if f.get_internal_type() == "DateField"
    }
    form: type[forms.ModelForm] = forms.modelform_factory(model, exclude=["file"], widgets=dates)
    return form


class VerificationForm(forms.ModelForm):
    class Meta:
        model = Verification
        fields = ["element", "source", "verified_on", "method", "result", "document", "note"]
        widgets = {
            "verified_on": forms.DateInput(attrs={"type": "date"}),
            "note": forms.Textarea(attrs={"rows": 2}),
        }


class DecisionForm(forms.Form):
    """Confirm or clear/release something, always with a reason."""

    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("clear", "Clear / release")])
    reason = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class MoveForm(forms.Form):
    comment = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    decision = forms.ChoiceField(
        required=False,
        choices=[("", "—"), ("approved", "Approved"), ("denied", "Denied")],
        help_text="the board's step only",
    )


class ScreeningForm(forms.Form):
    """The month's exclusion files, uploaded for a run from the page."""

    leie = forms.FileField(label="OIG LEIE file (UPDATED.csv)")
    sam = forms.FileField(label="SAM.gov exclusions extract (optional)", required=False)
