"""Django settings for the cmo web app (default: local demo on SQLite, served by waitress).

Everything that differs between a laptop demo and a hospital deployment comes from the
environment:

- ``CMO_DATA_DIR``: where the app keeps its SQLite database, secret key and static files
  (default ``./cmo-data``).
- ``CMO_DATABASE_URL``: a PostgreSQL URL (``postgres://user@host:5432/db``); SQLite otherwise.
- ``CMO_WAREHOUSE``: the analytics warehouse, opened read-only (default
  ``<CMO_DATA_DIR>/warehouse.duckdb``).
- ``CMO_SECRET_KEY``: required by the production settings; the demo generates one per data dir.
- ``CMO_ALLOWED_HOSTS``: comma-separated host names (default 127.0.0.1, localhost).

Production: ``DJANGO_SETTINGS_MODULE=cmo.web.settings_production`` (HTTPS-only cookies, HSTS).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from cmo.config import reload as _config

PACKAGE_DIR = Path(__file__).resolve().parent
# Read afresh: Django settings load once per process, after the CLI has set the environment.
_CMO = _config()
DATA_DIR = _CMO.data_dir
WAREHOUSE = _CMO.warehouse


def _secret_key() -> str:
    """The key from the environment, else the data dir's key file (made by
    ``cmo.web.setup()``), else one for this process only (a test run)."""
    env = os.environ.get("CMO_SECRET_KEY")
    if env:
        return env
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("CMO_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("CMO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "ninja",
    "simple_history",
    "cmo.web",
    # Domain apps: each registers its URLs, API, navigation and roles (cmo.web.registry).
    "cmo.directory",
    "cmo.quality",
    "cmo.staff",
    "cmo.safety",
    "cmo.review",
    "cmo.board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cmo.web.middleware.IdleTimeoutMiddleware",
    "cmo.web.middleware.ForcePasswordChangeMiddleware",
    "cmo.web.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # django-axes must be last: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cmo.web.urls"
WSGI_APPLICATION = "cmo.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cmo.web.roles.context_processor",
                "cmo.web.warehouse.data_as_of",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        _CMO.database_url,
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the access-log writes of one request not block the reads of the others.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # One connection per waitress thread, kept open: reconnecting (and re-running the PRAGMAs)
    # on every request cost about a millisecond.
    DATABASES["default"]["CONN_MAX_AGE"] = None
if os.environ.get("CMO_TEST_DATABASE_NAME"):
    # Concurrent test runs on one PostgreSQL server each need their own test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["CMO_TEST_DATABASE_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out user before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout: 5 failed logins for one user name lock it for 15 minutes (NIST SP 800-63B §5.2.2
# asks for throttling; the HIPAA Security Rule §164.308(a)(5)(ii)(C) for log-in monitoring).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
# By user name AND address together: five bad passwords from elsewhere cannot lock the CMO out
# of their own desk; cmo.web.views.Login adds a throttle per address across user names
# (IP_FAILURE_LIMIT), and the CMO or an administrator unlocks at /access-log/lockouts/.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False
# axes.W006 asks to lock by IP address alone too. Hospital clients reach the app through a few NAT
# or proxy addresses, so an IP lockout after five typos would lock out a whole ward: the address
# alone is throttled only at the higher IP_FAILURE_LIMIT.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Sessions: an idle session ends after 30 minutes (the idle middleware renews it at most once a
# minute, so a busy dashboard does not write the session on every request).
SESSION_COOKIE_AGE = 30 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy: scripts, styles, images and fonts from this app only; no inline
# script or style. Vega runs with its AST interpreter (no eval), see static/web/charts.js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"  # made by cmo.web.setup(); importing settings writes nothing
# The Vega/Vega-Lite/vega-embed bundle is written here from the vl-convert package on first
# start (cmo.web.vendor), so the app never needs a CDN.
VENDOR_STATIC = DATA_DIR / "vendor-static"
STATICFILES_DIRS = [VENDOR_STATIC]
_MANIFEST = os.environ.get("CMO_STATIC_MANIFEST", "1") == "1"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _MANIFEST

MEDIA_ROOT = DATA_DIR / "media"  # uploaded documents (staff verifications); never served raw
# Notifications (staff expirables, holds): printed on the console unless a deployment sets SMTP.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.security": {"handlers": ["console"], "level": "WARNING"}},
}
