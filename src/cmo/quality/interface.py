"""What other domains may use of the quality domain (the import contract's declared door):
its cached, typed reads of the measure results (measures, results, control charts, the latest
complete period, signals, funnels: one door per read, shared with the quality pages' cache),
and the CMO's targets."""

from __future__ import annotations

from dataclasses import dataclass

from cmo.quality.reads import (
    NoResults,
    chart,
    cusum,
    funnel,
    latest_complete,
    list_measures,
    results,
    signals,
)


@dataclass(frozen=True)
class Target:
    """The CMO's target for a measure (``quality__target``), on the measure's scale."""

    measure_id: str
    value: float
    source: str


def targets() -> dict[str, Target]:
    """Every target the CMO has set, by measure id (a measure without one is absent)."""
    from cmo.quality.models import MeasureTarget

    return {
        t.measure_id: Target(t.measure_id, t.value, t.source) for t in MeasureTarget.objects.all()
    }


__all__ = [
    "NoResults",
    "Target",
    "chart",
    "cusum",
    "funnel",
    "latest_complete",
    "list_measures",
    "results",
    "signals",
    "targets",
]
