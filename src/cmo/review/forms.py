"""Forms of the review pages: a rejected form comes back with one message per field."""

from __future__ import annotations

from typing import Any

from django import forms

from cmo.review.models import (
    Attribution,
    Competency,
    Decision,
    Indicator,
    Method,
    Outcome,
    Score,
)


class OppeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class AcceptFppeForm(forms.Form):
    method = forms.ChoiceField(choices=Method.choices)
    cases_required = forms.IntegerField(min_value=1, max_value=500, required=False)
    duration_days = forms.IntegerField(min_value=1, max_value=730, required=False)
    reviewers = forms.CharField(max_length=300, required=False)
    criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("cases_required") and not data.get("duration_days"):
            raise forms.ValidationError("The plan needs a number of cases or a duration.")
        return data


class DeclineFppeForm(forms.Form):
    comment = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}))


class ProgressForm(forms.Form):
    cases = forms.IntegerField(min_value=1, max_value=100, initial=1)


class CloseFppeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    extend_cases = forms.IntegerField(min_value=0, max_value=100, initial=0, required=False)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(forms.Form):
    reviewer = forms.IntegerField(widget=forms.Select)

    def __init__(self, *args: object, choices: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["reviewer"] = forms.TypedChoiceField(choices=choices, coerce=int)


SCORE_CHOICES: list[tuple[int, str]] = list(Score.choices)


class ScoreForm(forms.Form):
    score = forms.TypedChoiceField(choices=SCORE_CHOICES, coerce=int)
    attribution = forms.ChoiceField(choices=Attribution.choices)
    competency = forms.ChoiceField(choices=Competency.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class CommitteeForm(forms.Form):
    score = forms.TypedChoiceField(choices=SCORE_CHOICES, coerce=int)
    attribution = forms.ChoiceField(choices=Attribution.choices)
    competency = forms.ChoiceField(choices=Competency.choices)
    decision = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    system_issue = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class IndicatorForm(forms.ModelForm):  # type: ignore[type-arg]
    """A department's own indicator (the chair's; the defaults are the organisation's)."""

    class Meta:
        model = Indicator
        fields = [
            "department",
            "kind",
            "measure_id",
            "label",
            "competency",
            "higher_is_worse",
            "review_at",
            "action_at",
        ]

    def __init__(self, *args: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["department"].required = True
        self.fields["kind"].choices = [
            ("measure", "Risk-adjusted outcome (warehouse measure)"),
            ("manual", "Entered by hand (e.g. documentation audit)"),
        ]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("kind") == "measure" and not data.get("measure_id"):
            self.add_error("measure_id", "A measure indicator names its measure (e.g. READM30).")
        if data.get("kind") == "manual":
            data["measure_id"] = ""
        return data


class ManualValueForm(forms.Form):
    indicator = forms.TypedChoiceField(coerce=int)
    value = forms.FloatField()

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = choices  # type: ignore[attr-defined]
