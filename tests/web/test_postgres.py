"""The web tests again on PostgreSQL, in one pytest run.

Django picks its database when settings load, so the PostgreSQL pass is a child pytest
process over the same test modules with ``CMO_DATABASE_URL`` set (the session's warehouse is
reused). PostgreSQL is expected at 127.0.0.1:5432 (``make services`` starts it); without it the
test skips, except in CI, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
URL = os.environ.get("CMO_TEST_POSTGRES_URL", "postgres://root@127.0.0.1:5432/test")
MODULES = [
    "test_permissions.py",
    "test_views.py",
    "test_api.py",
    "test_overview.py",
    "test_daily.py",
    # The staff domain's database-touching suites (tests/staff).
    "../staff/test_files.py",
    "../staff/test_expirables.py",
    "../staff/test_screening.py",
    "../staff/test_applications.py",
    "../staff/test_pages.py",
    "../staff/test_permissions.py",
    # The safety app's database-heavy tests (dump-based anonymity check, matrix, triage).
    "../safety/test_safety_anonymity.py",
    "../safety/test_safety_permissions.py",
    "../safety/test_safety_triage.py",
    "../safety/test_safety_forms.py",
    "../safety/test_safety_api.py",
    "../safety/test_safety_rca.py",
    # The review domain (OPPE, FPPE, confidential peer review).
    "../review/test_review_fppe.py",
    "../review/test_review_peer.py",
    "../review/test_review_pages.py",
    # The board report's pages: draft, publication (BinaryField PDF, JSON numbers), scope.
    "../board/test_board_pages.py",
]


def _reachable(url: str) -> str | None:
    import psycopg

    try:
        psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


@pytest.mark.slow
@pytest.mark.postgres
def test_web_suite_on_postgresql(results_warehouse: Path, tmp_path: Path) -> None:
    if os.environ.get("CMO_DATABASE_URL"):
        pytest.skip("this run already uses CMO_DATABASE_URL (it is the PostgreSQL pass)")
    problem = _reachable(URL)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at {URL} in CI: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {URL}: {problem}")
    env = {
        **os.environ,
        "CMO_DATABASE_URL": URL,
        "CMO_TEST_DATABASE_NAME": f"test_cmo_{uuid.uuid4().hex[:8]}",
        "CMO_TEST_WAREHOUSE": str(results_warehouse),
    }
    env.pop("PYTEST_XDIST_WORKER", None)  # the child is a plain pytest run
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-m",
            "not slow",
            "--rootdir",
            str(HERE.parents[1]),
            *[str(HERE / m) for m in MODULES],
        ],
        env=env,
        capture_output=True,
        text=True,
        # The suite took ~6 min on a 2-core host and more than 10 on one half as fast
        # (benchmarks/_machine.py: python 0.45 s, duckdb 3.0 s), beside the rest of the suite.
        timeout=1800,
        cwd=HERE.parents[1],
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert "skipped" not in summary, run.stdout[-2000:]
