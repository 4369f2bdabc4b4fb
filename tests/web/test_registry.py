"""Adding a domain is a folder plus one INSTALLED_APPS line: a throwaway app (tests/web/
throwaway) installed by a settings module shows up in the URL root, the API (OpenAPI schema),
the navigation, the roles and the landing pages, without any edit of the shell.

Runs in a child process: Django's settings, URL root and API are built once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMO_", "DJANGO_", "PYTEST_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        "DJANGO_SETTINGS_MODULE": "throwaway.settings",
        "CMO_DATA_DIR": str(tmp_path_factory.mktemp("throwaway")),
        "CMO_STATIC_MANIFEST": "0",
        "CMO_ALLOWED_HOSTS": "testserver",
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "throwaway" / "probe.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_url_is_mounted_at_the_domain_name(probe: dict[str, Any]) -> None:
    assert probe["cmo"]["page"] == 200 and "thing-page" in probe["cmo"]["page_text"]
    assert probe["anonymous_page"] == 302


def test_api_route_is_in_the_schema_and_answers(probe: dict[str, Any]) -> None:
    assert "/api/throwaway/ping" in probe["openapi_paths"]
    assert "/api/quality/signals" in probe["openapi_paths"]  # the shell's other domains stay
    assert probe["keeper"]["api_json"] == {"thing": "pong"}
    assert probe["clinician"]["api"] == 403


def test_nav_entry_follows_the_capability(probe: dict[str, Any]) -> None:
    link = '<a href="/throwaway/" aria-current="page">Throwaway things</a>'
    assert link in probe["cmo"]["page_text"]
    assert probe["clinician"]["page"] == 403  # a role without the grant


def test_domain_role_gets_its_grant_and_landing_page(probe: dict[str, Any]) -> None:
    assert probe["keeper"]["page"] == 200
    assert probe["keeper"]["home"] == "/throwaway/"
    assert probe["cmo"]["home"] == "/quality/"  # the quality domain's landing wins for cmo
