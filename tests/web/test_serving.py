"""Serving while `cmo measures run` rebuilds: the app reads published snapshots only, so a real
concurrent rebuild gives no error and every page comes whole from the old or the new build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

BUILT = re.compile(r'id="data-as-of" data-built="([^"]+)"')
DATA_TO = re.compile(r"data to ([A-Z][a-z]{2} \d{4})")


def test_every_page_says_when_its_data_was_built(client_for: Any) -> None:
    from cmo.warehouse import snapshot

    snap = snapshot.current(Path(os.environ["CMO_WAREHOUSE"]))
    assert snap is not None
    for url in ("/quality/", "/quality/measure/LOS/", "/status/"):
        html = client_for("cmo").get(url).content.decode()
        built = BUILT.search(html)
        assert built and built.group(1).startswith(snap.built_at.strftime("%Y-%m-%dT%H:%M")), url
        assert "data as of " + snap.built_at.strftime("%Y-%m-%d %H:%M") + " UTC" in html


def test_uncached_pages_during_a_real_rebuild_come_from_one_build(
    client_for: Any, settings: Any, tmp_path: Path, capsys: Any
) -> None:
    from cmo.warehouse import connect, snapshot
    from cmo.web import warehouse

    live = tmp_path / "live.duckdb"
    shutil.copyfile(os.environ["CMO_WAREHOUSE"], live)
    with connect(live) as wh:
        old = snapshot.publish(wh, "test")
    assert old is not None
    settings.WAREHOUSE = live
    warehouse.clear_cache()
    client = client_for("cmo")
    # The rebuild ends its data half a year earlier, so the two builds' pages differ.
    rebuild = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cmo.cli import run; run()",
            "measures",
            "run",
            "--warehouse",
            str(live),
            "--as-of",
            "2024-06-30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    answers: list[tuple[int, str | None, str | None]] = []
    urls = ["/quality/", "/quality/measure/IMORT/", "/quality/?site=org-h2", "/status/"]
    deadline = time.monotonic() + 300
    after = 0
    while after < 4 and time.monotonic() < deadline:
        if rebuild.poll() is not None:
            after += 1  # a few requests once the new snapshot is out
        warehouse.clear_cache()  # every request reads the snapshot: nothing cached
        response = client.get(urls[len(answers) % len(urls)])
        html = response.content.decode()
        built, data_to = BUILT.search(html), DATA_TO.search(html)
        answers.append(
            (
                response.status_code,
                built.group(1) if built else None,
                data_to.group(1) if data_to else None,
            )
        )
    out = rebuild.communicate()[0]
    assert rebuild.returncode == 0, out
    new = snapshot.current(live)
    assert new is not None and new.path != old.path
    assert all(status < 500 for status, _, _ in answers)
    assert all(status == 200 for status, _, _ in answers), answers
    builds = {b for _, b, _ in answers}
    stamp = lambda s: s.built_at.isoformat()[:19]  # noqa: E731
    assert {b[:19] for b in builds if b} <= {stamp(old), stamp(new)}
    # Each dashboard's body matches its footer's build: never a mix of the two.
    expected = {stamp(old): "Dec 2024", stamp(new): "Jun 2024"}
    dashboards = [(b, d) for _, b, d in answers if d is not None]
    assert dashboards and all(expected[b[:19]] == d for b, d in dashboards if b)
    assert len(answers) >= 8, "requests were served while the rebuild ran"
    seen = [b[:19] for _, b, _ in answers if b]
    assert seen[0] == stamp(old) and seen[-1] == stamp(new)
    with capsys.disabled():
        print(
            f"\nrebuild while serving: {len(answers)} uncached requests, "
            f"{sum(s >= 500 for s, _, _ in answers)} >= 500, "
            f"{seen.count(stamp(old))} from the old build, {seen.count(stamp(new))} from the new"
        )
