"""What other domains may use of the quality domain (the import contract's declared door):
its cached, typed reads of the measure results."""

from __future__ import annotations

from cmo.quality.reads import NoResults, results

__all__ = ["NoResults", "results"]
