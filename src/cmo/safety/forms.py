"""Forms of the safety pages. A rejected form is shown again with everything the user typed
and one clear message per problem."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from cmo.directory.models import Practitioner, Unit
from cmo.errors import CmoError
from cmo.safety import models as m
from cmo.safety.warehouse import PatientLink, lookup_patient

# NCC MERP categories by whether the error reached the patient (Common Formats category).
MERP_FOR_CATEGORY = {
    m.Category.UNSAFE: {"A"},
    m.Category.NEAR_MISS: {"B"},
    m.Category.INCIDENT: set("CDEFGHI"),
}
NO_HARM_MERP = {"C", "D"}  # reached the patient without harm
HARM_MERP = set("EFGHI")  # temporary or permanent harm, or death
CLOCK_SKEW = timedelta(minutes=10)
OLDEST = timedelta(days=5 * 365)


class DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class ReportForm(forms.ModelForm):
    """The one-page report (AHRQ Common Formats Hospital v2.0 core questions)."""

    lookup_kind = forms.ChoiceField(
        label="Patient found by",
        choices=[("mrn", "MRN"), ("encounter", "Encounter")],
        initial="mrn",
        required=False,
    )
    lookup_value = forms.CharField(
        label="MRN or encounter number (optional)", max_length=128, required=False
    )

    class Meta:
        model = m.Event
        fields = [
            "event_type",
            "category",
            "harm",
            "merp",
            "occurred_at",
            "unit",
            "location_detail",
            "practitioners",
            "description",
            "anonymous",
        ]
        labels = {
            "event_type": "What kind of event?",
            "category": "Did it reach the patient?",
            "harm": "Harm to the patient (AHRQ Harm Scale)",
            "merp": "Medication events only: NCC MERP category",
            "occurred_at": "When did it happen?",
            "unit": "Where (unit)?",
            "location_detail": "Room or place (optional)",
            "practitioners": "Practitioners involved (optional)",
            "description": "What happened?",
            "anonymous": "Report anonymously (your name is not stored; you get no feedback)",
        }
        widgets = {
            "occurred_at": DateTimeLocal(),
            "description": forms.Textarea(attrs={"rows": 4}),
            "event_type": forms.RadioSelect,
            "category": forms.RadioSelect,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.link: PatientLink | None = None
        self.fields["unit"].queryset = Unit.objects.filter(active=True).select_related("site")
        self.fields["unit"].required = True
        self.fields["unit"].label_from_instance = lambda u: (
            f"{u.site.name} – {u.name}" if u.site else u.name
        )
        self.fields["practitioners"].queryset = Practitioner.objects.filter(active=True)
        self.fields["practitioners"].required = False
        # Radio buttons without the blank "---------" choice a model field's form adds.
        self.fields["event_type"].choices = m.EventType.choices
        self.fields["category"].choices = m.Category.choices
        self.fields["harm"].required = False
        self.fields["merp"].required = False
        self.fields["occurred_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        if not self.is_bound:
            self.initial.setdefault(
                "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def clean_occurred_at(self) -> Any:
        when = self.cleaned_data["occurred_at"]
        now = timezone.now()
        if when > now + CLOCK_SKEW:
            raise forms.ValidationError("The time is in the future: when did it happen?")
        if when < now - OLDEST:
            raise forms.ValidationError("That is more than 5 years ago: check the year.")
        return when

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        self._check_harm(data)
        self._check_merp(data)
        self._check_patient(data)
        return data

    def _check_harm(self, data: dict[str, Any]) -> None:
        category, harm = data.get("category"), data.get("harm")
        if category == m.Category.INCIDENT and not harm:
            self.add_error("harm", "An incident reached the patient: choose the harm (or Unknown).")
        elif category in (m.Category.NEAR_MISS, m.Category.UNSAFE):
            if harm not in ("", None, m.Harm.NONE):
                self.add_error(
                    "harm",
                    "A near miss or unsafe condition did not reach the patient, so it caused no "
                    "harm: choose No harm, or mark it as an incident.",
                )
            data["harm"] = m.Harm.NONE

    def _check_merp(self, data: dict[str, Any]) -> None:
        etype, merp = data.get("event_type"), data.get("merp")
        category, harm = data.get("category"), data.get("harm")
        if etype != m.EventType.MEDICATION:
            if merp:
                self.add_error("merp", "NCC MERP categories are for medication events only.")
            return
        if not merp:
            self.add_error("merp", "A medication event needs its NCC MERP category (A–I).")
            return
        if category and merp not in MERP_FOR_CATEGORY[category]:
            codes = sorted(MERP_FOR_CATEGORY[category])
            allowed = codes[0] if len(codes) == 1 else f"{codes[0]}–{codes[-1]}"
            self.add_error(
                "merp",
                f"NCC MERP {merp} does not fit “{m.Category(category).label}” "
                f"(that is category {allowed}).",
            )
        elif (merp == "I") != (harm == m.Harm.DEATH):
            self.add_error("merp", "NCC MERP I and the harm Death go together.")
        elif merp in NO_HARM_MERP and harm not in (m.Harm.NONE, m.Harm.UNKNOWN):
            self.add_error("merp", f"NCC MERP {merp} means no harm: choose E–H for harm.")
        elif merp in HARM_MERP and harm == m.Harm.NONE:
            self.add_error("merp", f"NCC MERP {merp} means harm: choose C or D for no harm.")

    def _check_patient(self, data: dict[str, Any]) -> None:
        value = (data.get("lookup_value") or "").strip()
        if not value:
            return
        kind = data.get("lookup_kind") or "mrn"
        try:
            self.link = lookup_patient(kind, value)
        except CmoError as exc:
            self.add_error(
                "lookup_value",
                f"The patient could not be looked up ({exc.message}); leave it empty to report "
                "without a patient link.",
            )
            return
        if self.link is None:
            what = "encounter" if kind == "encounter" else "patient with MRN"
            self.add_error(
                "lookup_value", f"No {what} “{value}” found: check it, or leave it empty."
            )


class ClassifyForm(forms.ModelForm):
    class Meta:
        model = m.Event
        fields = ["sre", "sentinel", "department"]
        labels = {"department": "Department (a chair of it sees the event)"}


class RouteForm(forms.Form):
    route = forms.ChoiceField(choices=m.Route.choices[1:], widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Why this route?")
    practitioner = forms.ModelChoiceField(
        Practitioner.objects.filter(active=True), required=False, label="Practitioner (referral)"
    )
    concern = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Concern for peer review"
    )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        if data.get("route") in (m.Route.INDIVIDUAL, m.Route.BOTH) and not data.get("concern"):
            self.add_error("concern", "A peer-review referral needs the concern in a sentence.")
        return data


class MergeForm(forms.Form):
    into = forms.CharField(label="Duplicate of (reference, e.g. SE-000012)", max_length=12)

    def clean_into(self) -> m.Event:
        raw = self.cleaned_data["into"].strip().upper().removeprefix("SE-")
        if not raw.isdigit():
            raise forms.ValidationError("Give the reference as SE-000012.")
        target: m.Event | None = (
            m.Event.objects.filter(pk=int(raw)).exclude(status=m.Status.MERGED).first()
        )
        if target is None:
            raise forms.ValidationError(f"No open report SE-{int(raw):06d}.")
        return target


class CloseForm(forms.Form):
    closing_message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Closing message to the reporter (what was learnt and done)",
    )


class TeamForm(forms.ModelForm):
    class Meta:
        model = m.Investigation
        fields = ["team"]
        widgets = {"team": forms.Textarea(attrs={"rows": 3})}


class TimelineForm(forms.ModelForm):
    class Meta:
        model = m.TimelineEntry
        fields = ["at", "fact"]
        widgets = {"at": DateTimeLocal(), "fact": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class CauseForm(forms.ModelForm):
    class Meta:
        model = m.CausalStatement
        fields = ["statement", "factor", *[name for name, _ in m.FIVE_RULES]]
        labels = dict(m.FIVE_RULES)
        widgets = {"statement": forms.Textarea(attrs={"rows": 2})}


class ActionForm(forms.ModelForm):
    class Meta:
        model = m.Action
        fields = [
            "description",
            "kind",
            "owner",
            "due",
            "status",
            "implemented_on",
            "measure_kind",
            "measure_id",
            "unit",
        ]
        labels = {
            "kind": "Action type (sets its RCA² strength)",
            "measure_id": "Measure id (quality measure, or event type for a safety rate)",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "due": forms.DateInput(attrs={"type": "date"}),
            "implemented_on": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        if data.get("measure_kind") == m.MeasureKind.SAFETY and data.get("measure_id") not in (
            *m.EventType.values,
            "all",
        ):
            self.add_error("measure_id", "A safety rate is an event type (e.g. fall) or “all”.")
        if data.get("status") == m.ActionStatus.DONE and not data.get("implemented_on"):
            self.add_error("implemented_on", "An implemented action needs its date.")
        return data


class ActionProgressForm(forms.ModelForm):
    """An action's progress: status and the date it was implemented (the chart's phase line)."""

    class Meta:
        model = m.Action
        fields = ["status", "implemented_on"]
        widgets = {"implemented_on": forms.DateInput(attrs={"type": "date"})}

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        if data.get("status") == m.ActionStatus.DONE and not data.get("implemented_on"):
            self.add_error("implemented_on", "An implemented action needs its date.")
        return data
