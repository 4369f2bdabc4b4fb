"""Login lockout, session expiry, CSRF, secure headers, CSP, production deploy checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db: Any) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("alice", password="correct horse battery")
    user.groups.set([Group.objects.get(name="cmo")])
    return user


def _login(client: Client, password: str) -> Any:
    return client.post("/accounts/login/", {"username": "alice", "password": password})


def test_login_works_and_lands_on_the_dashboard(client: Client, alice: Any) -> None:
    response = _login(client, "correct horse battery")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/", follow=True).redirect_chain[-1][0] == "/quality/"


def test_five_failures_lock_the_account(client: Client, alice: Any) -> None:
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    locked = _login(client, "wrong")
    assert locked.status_code == 429 and b"Account locked" in locked.content
    # Even the right password is refused while locked.
    assert _login(client, "correct horse battery").status_code == 429
    from axes.utils import reset

    reset(username="alice")
    assert _login(client, "correct horse battery").status_code == 302


def test_session_is_short_and_cookie_hardened(client: Client, alice: Any, settings: Any) -> None:
    _login(client, "correct horse battery")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert 0 < client.session.get_expiry_age() <= 30 * 60


def test_idle_session_expires(client: Client, alice: Any) -> None:
    client.force_login(alice)
    session = client.session
    session.set_expiry(-1)  # as if the 30 minutes had passed
    session.save()
    assert client.get("/quality/").status_code == 302


def test_login_form_requires_csrf(alice: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 403


def test_security_headers_and_csp_without_inline(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.get("/quality/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    html = response.content.decode()
    # No inline script: every <script> either has a src or is a JSON data island.
    import re

    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "style=" not in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html.replace("https://vega.github.io/schema", "")


def test_static_assets_are_served_by_the_app(client: Client) -> None:
    for path in ("/static/web/cmo.css", "/static/web/charts.js", "/static/vendor/vega-bundle.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 500, path


@pytest.mark.slow
def test_production_settings_pass_check_deploy(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cmo.web.settings_production",
        "CMO_SECRET_KEY": secrets.token_urlsafe(64),
        "CMO_DATA_DIR": str(tmp_path),
    }
    env.pop("CMO_DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests' conftest
    run = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cmo.web.settings_production",
        "CMO_DATA_DIR": str(tmp_path),
    }
    env.pop("CMO_SECRET_KEY", None)
    run = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "CMO_SECRET_KEY" in run.stderr


def test_one_time_password_must_be_changed_at_first_sign_in(client: Client) -> None:
    from cmo.web import add_user

    _, one_time, _ = add_user("newbie", "clinician")
    response = client.post("/accounts/login/", {"username": "newbie", "password": one_time})
    assert response.status_code == 302
    assert client.get("/quality/")["Location"] == "/accounts/password/"
    assert client.get("/api/quality/measures").status_code == 302
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": one_time,
            "new_password1": "a much better passphrase",
            "new_password2": "a much better passphrase",
        },
    )
    assert changed.status_code == 302
    assert client.get("/quality/").status_code == 200
    # The flag is gone for the next sign-in too.
    client.logout()
    client.post("/accounts/login/", {"username": "newbie", "password": "a much better passphrase"})
    assert client.get("/quality/").status_code == 200


def test_a_given_password_is_not_one_time(client: Client) -> None:
    from cmo.web import add_user

    add_user("svc", "quality_analyst", password="a chosen long password")
    client.post("/accounts/login/", {"username": "svc", "password": "a chosen long password"})
    assert client.get("/quality/").status_code == 200
