"""kill -9 at any moment leaves the warehouse as it was before the run; the next run succeeds
and gives the same tables as a clean run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_helpers import rows

from cmo.warehouse import connect

RUN = (
    "import sys; from pathlib import Path; from cmo.warehouse import connect; "
    "from cmo.fhir.ingest import ingest; wh = connect(sys.argv[1]); "
    "ingest([Path(p) for p in sys.argv[2:]], wh, progress=False); wh.close()"
)


def _run(warehouse: Path, *paths: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(warehouse), *map(str, paths)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _export(folder: Path, n: int) -> Path:
    """A synthetic export big enough that a run takes a few seconds."""
    folder.mkdir()
    with (
        open(folder / "Encounter.ndjson", "w") as enc,
        open(folder / "Observation.ndjson", "w") as obs,
    ):
        for i in range(n):
            e = {
                "resourceType": "Encounter", "id": f"e{i}", "status": "finished",
                "meta": {"lastUpdated": "2024-06-01T00:00:00Z"},
                "subject": {"reference": f"Patient/p{i % 997}"},
                "period": {"start": "2024-01-01T10:00:00-05:00", "end": "2024-01-03T09:00:00Z"},
                "diagnosis": [{"condition": {"reference": f"Condition/c{i}-{k}"}, "rank": k + 1}
                              for k in range(3)],
            }  # fmt: skip
            enc.write(json.dumps(e) + "\n")
            for k in range(3):
                o = {"resourceType": "Observation", "id": f"o{i}-{k}", "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                     "valueQuantity": {"value": 60 + k, "unit": "/min"},
                     "effectiveDateTime": "2024-01-02T08:00:00Z"}  # fmt: skip
                obs.write(json.dumps(o) + "\n")
    return folder


def _state(path: Path) -> dict:
    """Row count and an order-independent hash of every fhir table (source_file aside)."""
    with connect(path) as wh:
        tables = {}
        for t in wh.list_tables("fhir"):
            if t in ("fhir__ingest_run", "fhir__quarantine"):
                continue
            cols = [c[0] for c in wh.sql(f"DESCRIBE {t}").fetchall() if c[0] != "source_file"]
            select = ", ".join(f'"{c}"' for c in cols)
            tables[t] = rows(wh, f"SELECT count(*), sum(hash(x)) FROM (SELECT {select} FROM {t}) x")
        tables["runs"] = wh.count("fhir__ingest_run") if wh.exists("fhir__ingest_run") else 0
    return tables


@pytest.mark.slow
def test_kill_minus_9_mid_run_then_rerun(tmp_path: Path, edge_dir: Path) -> None:
    big = _export(tmp_path / "big", 8_000)
    # The clean reference: the edge cases, then the big export.
    clean = tmp_path / "clean.duckdb"
    assert _run(clean, edge_dir).wait() == 0
    before = _state(clean)
    t0 = time.perf_counter()
    assert _run(clean, big).wait() == 0
    seconds = time.perf_counter() - t0
    print(f"clean run of the big export: {seconds:.1f} s")
    after = _state(clean)
    assert after != before

    target = tmp_path / "killed.duckdb"
    assert _run(target, edge_dir).wait() == 0
    killed_mid_run = 0
    # First a kill while the files are being parsed, then one while the merge is writing
    # into the warehouse file inside the run's transaction (seen as the file growing).
    for when in ("parsing", "merging"):
        size = target.stat().st_size
        proc = _run(target, big)
        if when == "parsing":
            time.sleep(seconds * 0.3)
        else:
            while proc.poll() is None and target.stat().st_size <= size:
                time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _state(target)
        if proc.returncode == -signal.SIGKILL and state == before:
            killed_mid_run += 1
        else:
            # Committed before the signal: then it must be the whole run, never part of it.
            assert state == after
            break
    print("kills that landed mid-run:", killed_mid_run)
    assert killed_mid_run >= 1, "no kill landed mid-run; the export is too small for this machine"
    assert _run(target, big).wait() == 0
    final, expected = _state(target), dict(after)
    assert final.pop("runs") >= expected.pop("runs")  # a run killed after its commit counts
    assert final == expected


@pytest.mark.slow
def test_kill_minus_9_at_random_moments(tmp_path: Path, edge_dir: Path) -> None:
    """Seeded random kill points over the whole run (parse, merge, commit, after): every time
    the warehouse is exactly as before the run or exactly as after it, and it verifies."""
    big = _export(tmp_path / "big", 4_000)
    clean = tmp_path / "clean.duckdb"
    assert _run(clean, edge_dir).wait() == 0
    before = _state(clean)
    t0 = time.perf_counter()
    assert _run(clean, big).wait() == 0
    seconds = time.perf_counter() - t0
    after = _state(clean)
    rng = random.Random(20)
    outcomes = {"before": 0, "after": 0}
    for k in range(6):
        target = tmp_path / f"killed{k}.duckdb"
        assert _run(target, edge_dir).wait() == 0
        proc = _run(target, big)
        time.sleep(rng.uniform(0.05, 0.9) * seconds)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _state(target)
        runs = state.pop("runs")
        if state == {k: v for k, v in before.items() if k != "runs"}:
            outcomes["before"] += 1
            assert runs == before["runs"]
        else:  # committed before the signal: the whole run, never part of it
            assert state == {k: v for k, v in after.items() if k != "runs"}
            outcomes["after"] += 1
        with connect(target) as wh:
            wh.verify()  # the file's checksums hold after every kill
    print("kills that left the warehouse as before / as after the run:", outcomes)
    assert outcomes["before"] >= 1
