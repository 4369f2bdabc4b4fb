"""App tables of the quality domain: ``quality__target`` (and its history). The warehouse's
``quality__*`` tables are the build's; these few live in the app database.

A target is the CMO's: a value per measure with where it comes from (a national benchmark, a
strategic plan, a contract). Tiles, charts, the board scorecard and the department scorecard
read it through :func:`cmo.quality.interface.targets`; the build's ``quality__measure.target``
stays the measure's own reference line (1.0 for an O/E).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class MeasureTarget(models.Model):
    """The CMO's target for one measure, on the measure's own scale (a rate as a proportion,
    an O/E as a ratio, LOS in days), with its source so a board reader can weigh it."""

    measure_id = models.CharField(max_length=32, unique=True)
    value = models.FloatField(help_text="on the measure's scale (proportion, ratio or days)")
    source = models.CharField(
        max_length=200, help_text="where the value comes from, e.g. 'CMS Care Compare 2025'"
    )
    note = models.TextField(blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    set_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(table_name="quality__target_history")

    class Meta:
        db_table = "quality__target"
        ordering = ("measure_id",)

    def __str__(self) -> str:
        return f"{self.measure_id}: {self.value:g} ({self.source})"
