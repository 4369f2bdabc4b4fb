"""The quality domain's doors to the analytics: ``cmo.measures.api``'s reads, cached.

Each door has the read's own typed signature without the warehouse argument (the web core's
``door`` supplies the serving snapshot and the cache), so a type checker follows every call
from a view to the engine. Pages read what the build computed (results, chart points, funnel
points, periods, signals); they compute no analysis.
"""

from __future__ import annotations

from cmo.measures import api
from cmo.web.warehouse import NoResults, door

list_measures = door(api.list_measures)
measure = door(api.measure)
results = door(api.results)
long_rows = door(api.long_rows)
practitioners_in = door(api.practitioners_in)
signals = door(api.signals)
periods = door(api.periods)
latest_complete = door(api.latest_complete)
chart = door(api.chart)
funnel = door(api.funnel)
cusum = door(api.cusum)
model_card = door(api.model_card)
# One unit across measures (the practitioner, department and unit pages), the drill-down's
# demographics.
unit_results = door(api.unit_results)
unit_funnel = door(api.unit_funnel)
unit_signals = door(api.unit_signals)
unit_names = door(api.unit_names)
practitioner_departments = door(api.practitioner_departments)
stay_demographics = door(api.stay_demographics)

__all__ = [
    "NoResults",
    "chart",
    "cusum",
    "funnel",
    "latest_complete",
    "list_measures",
    "long_rows",
    "measure",
    "model_card",
    "periods",
    "practitioner_departments",
    "practitioners_in",
    "results",
    "signals",
    "stay_demographics",
    "unit_funnel",
    "unit_names",
    "unit_results",
    "unit_signals",
]
