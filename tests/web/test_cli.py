"""``cmo user add`` / ``cmo serve --help`` / ``cmo.web.demo_users``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _cmo(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CMO_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "cmo.web.settings"}
    env.pop("CMO_DATABASE_URL", None)
    cmo = str(Path(sys.executable).parent / "cmo")
    return subprocess.run([cmo, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_user_add_prints_a_password_and_token_that_work(tmp_path: Path) -> None:
    run = _cmo(["user", "add", "svc_etl", "--role", "quality_analyst", "--token"], tmp_path)
    assert run.returncode == 0, run.stderr
    password = run.stdout.split("one-time password: ")[1].split()[0]
    token = run.stdout.split("API token (shown once): ")[1].split()[0]
    assert len(password) >= 12 and token.startswith("cmo_")
    listed = _cmo(["user", "list"], tmp_path)
    assert "svc_etl\tquality_analyst\tactive" in listed.stdout
    assert (tmp_path / "cmo.sqlite3").exists()


def test_user_add_rejects_an_unknown_role_in_one_line(tmp_path: Path) -> None:
    run = _cmo(["user", "add", "bob", "--role", "wizard"], tmp_path)
    assert run.returncode == 2
    assert "unknown role 'wizard'" in run.stderr
    assert "Traceback" not in run.stderr


def test_serve_help(tmp_path: Path) -> None:
    run = _cmo(["serve", "--help"], tmp_path)
    assert run.returncode == 0
    for option in ("--host", "--port", "--warehouse", "--demo-users"):
        assert option in run.stdout


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_users_one_per_role_with_working_passwords() -> None:
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from cmo.web import demo_users
    from cmo.web.roles import all_roles

    lines: list[str] = []
    created = demo_users(echo=lines.append, departments=["org-h1-cardiology"])
    assert set(created) == {f"demo_{r}" for r in all_roles()}
    assert len(lines) == len(all_roles()) + 1 and all(
        pw in "\n".join(lines) for pw in created.values()
    )
    request: Any = RequestFactory().post("/accounts/login/")
    user = authenticate(
        request, username="demo_board_member", password=created["demo_board_member"]
    )
    assert user is not None and user.groups.get().name == "board_member"
    assert authenticate(request, username="demo_cmo", password="wrong") is None


@pytest.mark.slow
def test_serve_on_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _cmo(["serve", "--port", str(port)], tmp_path)
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr


def test_serve_publishes_a_first_snapshot_of_an_older_warehouse(tmp_path: Path) -> None:
    """A warehouse built before serving snapshots existed gets one at `cmo serve`, dated by
    the file's last write (the data's age), and an existing snapshot is left alone."""
    from datetime import UTC, datetime

    from cmo.warehouse import connect, snapshot
    from cmo.web.cli import _publish_if_missing

    path = tmp_path / "old.duckdb"
    with connect(path) as wh:
        wh.sql("CREATE TABLE t AS SELECT 1 AS x")
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    _publish_if_missing(path)
    snap = snapshot.current(path)
    assert snap is not None and snap.by == "serve" and snap.built_at == written
    _publish_if_missing(path)
    assert snapshot.current(path) == snap


@pytest.mark.slow
def test_user_add_refuses_an_existing_user_unless_reset(tmp_path: Path) -> None:
    """Issue 14: ``cmo user add`` on an existing name silently reset password and role."""
    first = _cmo(["user", "add", "carol", "--role", "clinician"], tmp_path)
    assert first.returncode == 0, first.stderr
    again = _cmo(["user", "add", "carol", "--role", "cmo"], tmp_path)
    assert again.returncode == 2 and "exists; use --reset" in again.stderr
    assert "Traceback" not in again.stderr
    assert "carol\tclinician\tactive" in _cmo(["user", "list"], tmp_path).stdout
    reset = _cmo(["user", "add", "carol", "--role", "cmo", "--reset"], tmp_path)
    assert reset.returncode == 0 and "one-time password" in reset.stdout
    assert "carol\tcmo\tactive" in _cmo(["user", "list"], tmp_path).stdout
