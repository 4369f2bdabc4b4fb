"""Production settings: HTTPS only, secret key from the environment, ``check --deploy`` clean.

Use behind a TLS-terminating proxy that sets ``X-Forwarded-Proto``::

    DJANGO_SETTINGS_MODULE=cmo.web.settings_production CMO_SECRET_KEY=... cmo serve
"""

from __future__ import annotations

import os

from cmo.web.settings import *  # noqa: F403

if not os.environ.get("CMO_SECRET_KEY"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("CMO_SECRET_KEY must be set in production (50+ random characters)")

DEBUG = False
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
