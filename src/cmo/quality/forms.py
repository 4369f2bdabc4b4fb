"""Request parameters of the quality pages (the dashboard's and measure page's site filter,
the drill-down's filters), validated in one place per view (``cmo.web.params``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from cmo.measures.api import LEVELS, PERIOD_TYPES
from cmo.web.params import ParamsForm, bad_request, id_field

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

    def params(self) -> dict[str, Any]:
        """The filters for ``long_rows`` (None for each one not given)."""
        d = self.cleaned_data
        return {
            "period_type": d.get("period_type") or None,
            "period_start": d.get("period_start"),
            "level": d.get("level") or None,
            "unit_id": d.get("unit_id") or None,
        }


__all__ = ["DrillForm", "SiteForm", "bad_request"]
