"""The Spark ingest (in progress)."""

from __future__ import annotations

from typing import Any

from cmo.fhir.sources import IngestError


def run_spark(wh: Any, sources: Any, result: Any, advance: Any) -> None:
    raise IngestError("--engine spark is not implemented yet")


def append_run_log(wh: Any, row: list[Any]) -> None:
    raise IngestError("--engine spark is not implemented yet")
