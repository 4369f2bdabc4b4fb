"""Request parameters of the quality pages (the dashboard's and measure page's site filter,
the drill-down's filters), validated in one place per view (``cmo.web.params``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from cmo.measures.api import LEVELS, PERIOD_TYPES
from cmo.web.params import ParamsForm, bad_request, id_field

ROLLING_PERIODS = ("rolling12", "rolling24")
# Periods the warehouse can hold: well before any EHR data, and far enough ahead that a year's
# end (start + 12 months) stays a valid date.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)


class SiteForm(ParamsForm):
    """``?site=`` of the dashboard and the measure pages: one of the sites with results."""

    site = id_field(required=False)

    def __init__(self, data: Any, *, sites: list[str]) -> None:
        super().__init__(data)
        self.sites = set(sites)

    def clean_site(self) -> str:
        site: str = self.cleaned_data.get("site") or ""
        if site and site not in self.sites:
            raise forms.ValidationError("unknown site")
        return site


class DrillForm(ParamsForm):
    """The drill-down's filters: a period (type and start), a level and one unit of it."""

    period_type = forms.ChoiceField(choices=[(p, p) for p in PERIOD_TYPES], required=False)
    period_start = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        validators=[MinValueValidator(FIRST_DATE), MaxValueValidator(LAST_DATE)],
    )
    level = forms.ChoiceField(choices=[(v, v) for v in LEVELS], required=False)
    unit_id = id_field(required=False)
    outcome = forms.ChoiceField(choices=[("", "all"), ("yes", "yes"), ("no", "no")], required=False)
    format = forms.ChoiceField(choices=[("", "page"), ("csv", "csv")], required=False)

    def extra(self) -> dict[str, Any]:
        """The outcome filter and the export format, when given (for the access log)."""
        return {k: self.cleaned_data[k] for k in ("outcome", "format") if self.cleaned_data.get(k)}

    def params(self) -> dict[str, Any]:
        """The filters for ``long_rows`` (None for each one not given)."""
        d = self.cleaned_data
        return {
            "period_type": d.get("period_type") or None,
            "period_start": d.get("period_start"),
            "level": d.get("level") or None,
            "unit_id": d.get("unit_id") or None,
        }


class MeasurePageForm(ParamsForm):
    """``?period=`` (the table's period type: its latest complete one) and ``?format=csv``."""

    period = forms.ChoiceField(choices=[(p, p) for p in PERIOD_TYPES], required=False)
    format = forms.ChoiceField(choices=[("", "page"), ("csv", "csv")], required=False)


class UnitPageForm(ParamsForm):
    """``?year=`` of the practitioner, department and unit pages: a year's first day (or the
    year alone), or ``rolling12`` / ``rolling24`` for the rolling months the build stored."""

    year = forms.CharField(required=False, max_length=10)

    def clean_year(self) -> date | str | None:
        raw: str = self.cleaned_data.get("year") or ""
        if not raw:
            return None
        if raw in ROLLING_PERIODS:
            return raw
        try:
            year = date.fromisoformat(raw) if len(raw) == 10 else date(int(raw), 1, 1)
        except ValueError:
            raise forms.ValidationError(
                "must be a year (YYYY or YYYY-01-01), rolling12 or rolling24"
            ) from None
        if (year.month, year.day) != (1, 1):
            raise forms.ValidationError("must be the first day of a year (YYYY-01-01)")
        if not FIRST_DATE <= year <= LAST_DATE:
            raise forms.ValidationError(f"must be between {FIRST_DATE.year} and {LAST_DATE.year}")
        return year


class TargetForm(forms.Form):
    """The CMO's target of one measure: a value on the measure's scale and its source."""

    value = forms.FloatField(
        min_value=0.0,
        max_value=1_000_000.0,
        help_text="a rate as a percentage (e.g. 2.5 for 2.5%), an O/E as a ratio, LOS in days",
    )
    source = forms.CharField(max_length=200, help_text="e.g. CMS Care Compare 2025 national rate")
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, percent: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.percent = percent
        if percent:
            self.fields["value"].max_value = 100.0  # type: ignore[attr-defined]
            self.fields["value"].validators.append(MaxValueValidator(100.0))

    def scaled(self) -> float:
        """The value on the measure's own scale (a percentage back to a proportion)."""
        value = float(self.cleaned_data["value"])
        return value / 100.0 if self.percent else value


__all__ = ["DrillForm", "MeasurePageForm", "SiteForm", "TargetForm", "UnitPageForm", "bad_request"]
