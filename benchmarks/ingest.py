"""Ingest benchmark: ``cmo ingest`` against DuckDB's own ``read_json`` with an explicit schema.

On the same files (a clinosim cohort replicated with new ids to >= 500 MB of NDJSON, under
benchmarks/data/, gitignored) it times
  (a) the engine's limit: DuckDB ``read_json(columns=...)`` of each file into a table, with the
      same explicit struct the ingest parses with, and
  (b) ``cmo ingest`` of the whole export (quarantine checks, flattening, child tables, merge),
and prints MB/s for both, the ratio (target: b >= 50% of a) and the peak RSS of (b).
Run: ``.venv/bin/python -m benchmarks ingest`` (``--quick`` for a ~40 MB check;
``CMO_BENCH_SPARK=1`` adds ``--engine spark`` on the 40 MB export).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = HERE / "data"
COHORT = ROOT / "tests" / "fixtures" / "cache" / "clinosim-us-200-7" / "fhir_r4"
_IDS = re.compile(rb'("id": ?"|"reference": ?"[A-Za-z]+/)')


def ensure_cohort() -> Path:
    """The clinosim cohort the tests cache (generated here when missing, ~40 s)."""
    if not (COHORT / "manifest.json").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "clinosim"), "simulate", "--country", "US",
             "--population", "200", "--seed", "7", "--output", str(COHORT.parent),
             "--format", "fhir-r4"],
            check=True, capture_output=True,
        )  # fmt: skip
    return COHORT


def make_export(target_mb: int) -> Path:
    """Replicate the cohort with new ids (``c<k>-`` prefixed, references kept consistent)."""
    out = DATA / f"export-{target_mb}mb"
    if (out / "manifest.json").exists():
        return out
    src = ensure_cohort()
    files = sorted(src.glob("*.ndjson"))
    size = sum(f.stat().st_size for f in files)
    copies = max(1, -(-target_mb * 1_000_000 // size))
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"transactionTime": "2026-01-01T00:00:00Z", "output": []}
    for f in files:
        lines = f.read_bytes().splitlines()
        with open(out / f.name, "wb") as fh:
            for k in range(copies):
                prefix = f"c{k}-".encode()
                fh.writelines(_IDS.sub(rb"\1" + prefix, ln) + b"\n" for ln in lines)
        manifest["output"].append({"type": f.stem, "url": f.name})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def engine_limit(export: Path) -> float:
    """(a): seconds for DuckDB read_json with the explicit struct, every file into a table."""
    import duckdb

    from cmo.fhir.duck import GENERIC_TREE, duck_struct
    from cmo.fhir.schema import BY_TYPE

    con = duckdb.connect(str(DATA / "limit.duckdb"))
    t0 = time.perf_counter()
    for f in sorted(export.glob("*.ndjson")):
        tree = BY_TYPE[f.stem].parse_tree if f.stem in BY_TYPE else GENERIC_TREE
        cols = {k: _sql_type(v) for k, v in duck_struct(tree).items()}
        con.execute(
            f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_json(?, columns={cols!r}, "
            "format='newline_delimited', maximum_object_size=536870912)",
            [str(f)],
        )
    seconds = time.perf_counter() - t0
    con.close()
    (DATA / "limit.duckdb").unlink(missing_ok=True)
    return seconds


def _sql_type(v: object) -> str:
    if isinstance(v, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {_sql_type(x)}' for k, x in v.items()) + ")"
    if isinstance(v, list):
        return _sql_type(v[0]) + "[]"
    return str(v)


def cmo_ingest(export: Path) -> tuple[float, float, dict]:
    """(b): seconds and peak RSS (MB) of ``cmo ingest`` in a fresh process, plus its summary."""
    wh = DATA / "bench.duckdb"
    wh.unlink(missing_ok=True)
    code = (
        "import json,sys,time;from pathlib import Path;from cmo.warehouse import connect;"
        "from cmo.fhir.ingest import ingest;w=connect(sys.argv[2]);t=time.perf_counter();"
        "r=ingest([Path(sys.argv[1])],w,progress=False);s=time.perf_counter()-t;"
        "import resource;rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024;"
        "print(json.dumps({'seconds':s,'rss_mb':rss,'rows':sum(r.rows.values()),"
        "'quarantined':r.quarantined}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(export), str(wh)],
        check=True,
        capture_output=True,
        text=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    wh.unlink(missing_ok=True)
    return res["seconds"], res["rss_mb"], res


def spark_ingest(export: Path) -> float:
    """Seconds of ``ingest`` on a local Spark session (local[2]), session start excluded."""
    import shutil

    from cmo.fhir.ingest import ingest
    from cmo.warehouse import connect

    where = DATA / "spark-warehouse"
    shutil.rmtree(where, ignore_errors=True)
    wh = connect(where, engine="spark")
    wh.spark.sparkContext.setLogLevel("ERROR")
    t0 = time.perf_counter()
    ingest([export], wh, progress=False)
    seconds = time.perf_counter() - t0
    wh.spark.stop()
    shutil.rmtree(where, ignore_errors=True)
    return seconds


def run(quick: bool) -> dict:
    target = 40 if quick else 520
    export = make_export(target)
    mb = sum(f.stat().st_size for f in export.glob("*.ndjson")) / 1e6
    a = engine_limit(export)
    b, rss, res = cmo_ingest(export)
    result = {
        "input_mb": round(mb, 1),
        "read_json_s": round(a, 2),
        "read_json_mb_s": round(mb / a, 1),
        "cmo_ingest_s": round(b, 2),
        "cmo_ingest_mb_s": round(mb / b, 1),
        "ratio": round(a / b, 3),
        "cmo_ingest_peak_rss_mb": round(rss),
        "rows": res["rows"],
        "quarantined": res["quarantined"],
        "bench_process_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if os.environ.get("CMO_BENCH_SPARK"):  # opt-in: a local Spark session costs minutes here
        spark_s = spark_ingest(make_export(40))
        small = sum(f.stat().st_size for f in make_export(40).glob("*.ndjson")) / 1e6
        result["spark_40mb_s"] = round(spark_s, 1)
        result["spark_mb_s"] = round(small / spark_s, 2)
        print(f"ingest --engine spark: {small:.0f} MB in {spark_s:.1f} s")
    print(
        f"ingest: {mb:.0f} MB NDJSON; (a) DuckDB read_json {mb / a:.0f} MB/s ({a:.1f} s); "
        f"(b) cmo ingest {mb / b:.0f} MB/s ({b:.1f} s, peak RSS {rss:.0f} MB); "
        f"ratio b/a = {a / b:.2f}"
    )
    return result


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
