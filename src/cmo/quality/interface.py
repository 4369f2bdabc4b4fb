"""What other domains may use of the quality domain (the import contract's declared door)."""

from __future__ import annotations

from cmo.quality.charts import control_chart

__all__ = ["control_chart"]
