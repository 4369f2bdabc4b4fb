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
model_card = door(api.model_card)

__all__ = [
    "NoResults",
    "chart",
    "funnel",
    "latest_complete",
    "list_measures",
    "long_rows",
    "measure",
    "model_card",
    "periods",
    "practitioners_in",
    "results",
    "signals",
]
