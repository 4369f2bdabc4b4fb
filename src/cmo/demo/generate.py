"""Write the synthetic health system as a FHIR R4 Bulk Data export (streaming, deterministic).

Patients are simulated in fixed chunks (each patient with its own random stream), in worker
processes when the run is large; the parent appends each chunk's NDJSON to one open file per
resource type, in chunk order, so the bytes do not depend on the number of workers and no
whole data set is ever held in memory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

import orjson

from cmo.demo import sim
from cmo.demo.resources import structure_resources

CHUNK = 1_000  # patients per chunk: fixed, part of the determinism contract
INLINE_BELOW = 4_000  # smaller runs are simulated in this process (no worker start-up)
RESOURCE_TYPES = (
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "Coverage",
    "Encounter",
    "Condition",
    "Procedure",
    "Observation",
    "Device",
    "DeviceUseStatement",
    "Claim",
    "ExplanationOfBenefit",
    "QuestionnaireResponse",
    "AdverseEvent",
)
GENERATOR_VERSION = "2"  # 2: the EHR's AdverseEvents (falls with injury, pressure injuries)

_CTX: sim.Context | None = None


def _init_worker(patients: int, seed: int, start: date, months: int) -> None:
    global _CTX
    _CTX = sim.Context(patients, seed, start, months)


def _run_chunk(bounds: tuple[int, int]) -> tuple[dict[str, bytes], Counter]:
    assert _CTX is not None
    return sim.simulate_chunk(_CTX, *bounds)


def request_args(patients: int, seed: int, start: date, months: int) -> dict[str, Any]:
    """The arguments that determine the bytes of an export (stored in the manifest)."""
    return {
        "patients": patients,
        "seed": seed,
        "start": start.isoformat(),
        "months": months,
        "generator": GENERATOR_VERSION,
    }


def existing_export(out: Path, patients: int, seed: int, start: date, months: int) -> bool:
    """True when ``out`` already holds a complete export made with the same arguments."""
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        data = orjson.loads(manifest.read_bytes())
    except orjson.JSONDecodeError:
        return False
    if data.get("extension", {}).get("cmo-demo") != request_args(patients, seed, start, months):
        return False
    return all((out / o["url"]).is_file() for o in data.get("output", []))


def _chunks(patients: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + CHUNK, patients)) for lo in range(0, patients, CHUNK)]


def _results(
    ctx: sim.Context, patients: int, seed: int, start: date, months: int, workers: int
) -> Iterator[tuple[dict[str, bytes], Counter]]:
    chunks = _chunks(patients)
    if workers <= 1 or patients < INLINE_BELOW:
        for lo, hi in chunks:
            yield sim.simulate_chunk(ctx, lo, hi)
        return
    with mp.get_context("fork").Pool(
        workers, initializer=_init_worker, initargs=(patients, seed, start, months)
    ) as pool:
        # imap keeps chunk order; results are written as soon as the next one in order is ready.
        yield from pool.imap(_run_chunk, chunks)


def generate(
    out: Path,
    *,
    patients: int,
    seed: int,
    start: date,
    months: int,
    progress: bool | None = None,
    workers: int | None = None,
) -> Path:
    """Generate the export into ``out`` and return the manifest path.

    Writes manifest.json (FHIR Bulk Data export manifest), one ``<Type>.ndjson`` per
    resource type and signals.json (the planted signals with their observed sizes).
    Same arguments -> byte-identical files.
    """
    start = start.replace(day=1)  # the window is whole calendar months
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if months < 7:
        raise ValueError("months must be at least 7 (the planted signals need 6 recent months)")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("manifest.json", "signals.json", *(f"{t}.ndjson" for t in RESOURCE_TYPES)):
        (out / stale).unlink(missing_ok=True)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if progress is None:
        progress = sys.stdout.isatty()
    ctx = sim.Context(patients, seed, start, months)
    end_instant = ctx.end_date().isoformat() + "T00:00:00Z"
    # One open file per resource type for the whole run (closed in the finally below).
    files: dict[str, IO[bytes]] = {
        t: open(out / f"{t}.ndjson", "wb")  # noqa: SIM115
        for t in RESOURCE_TYPES
    }
    counts: Counter = Counter()
    stats: Counter = Counter()
    try:
        for rtype, res in structure_resources(ctx.structure, end_instant):
            files[rtype].write(orjson.dumps(res) + b"\n")
            counts[rtype] += 1
        results = _results(ctx, patients, seed, start, months, workers)
        for chunk, chunk_stats in _with_progress(results, len(_chunks(patients)), progress):
            for rtype, data in chunk.items():
                files[rtype].write(data)
                counts[rtype] += data.count(b"\n")
            stats.update(chunk_stats)
    finally:
        for f in files.values():
            f.close()
    from cmo.demo.signals import signals_document

    (out / "signals.json").write_bytes(
        orjson.dumps(signals_document(ctx, stats, counts), option=orjson.OPT_INDENT_2) + b"\n"
    )
    manifest = {
        "transactionTime": end_instant,
        "request": "urn:cmo:demo:$export",
        "requiresAccessToken": False,
        "output": [
            {"type": t, "url": f"{t}.ndjson", "count": counts[t]}
            for t in RESOURCE_TYPES
            if counts[t]
        ],
        "error": [],
        "extension": {"cmo-demo": request_args(patients, seed, start, months)},
    }
    for t in RESOURCE_TYPES:
        if not counts[t]:
            (out / f"{t}.ndjson").unlink()
    path = out / "manifest.json"
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def _with_progress(
    results: Iterator[tuple[dict[str, bytes], Counter]], total: int, show: bool
) -> Iterator[tuple[dict[str, bytes], Counter]]:
    if not show:
        yield from results
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("generating patients", total=total)
        for item in results:
            yield item
            bar.advance(task)
