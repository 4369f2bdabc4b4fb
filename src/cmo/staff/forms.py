from __future__ import annotations

from django import forms

from cmo.staff.models import Verification


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
