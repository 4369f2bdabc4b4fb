"""Synthetic health system generator (``cmo demo``): FHIR R4 Bulk Data with planted signals.

The generating model (case mix, coefficients, calibration targets and their sources) is
documented in docs/demo-data.md; the code lists live in :mod:`cmo.demo.casemix`.
"""

from __future__ import annotations

DEFAULT_PATIENTS = 20_000
DEFAULT_SEED = 42
DEFAULT_MONTHS = 24
