"""The HTTP API (django-ninja): OpenAPI schema at /api/openapi.json, docs at /api/docs.

Authentication: the browser session, or ``Authorization: Bearer <token>`` for service accounts
(``cmo user add NAME --role ROLE --token``). Permissions are the roles' capabilities, as on the
pages; patient-level rows are access-logged like the drill-down page.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from ninja import NinjaAPI
from ninja.security import HttpBearer, django_auth

from cmo.web.models import ApiToken


class TokenAuth(HttpBearer):
    """Bearer token of a service account; only the token's SHA-256 is stored."""

    def authenticate(self, request: Any, token: str) -> Any:
        found = ApiToken.lookup(token)
        if found is None:
            return None
        # Throttled bookkeeping: one write a minute per token at most.
        now = timezone.now()
        if found.last_used is None or (now - found.last_used).total_seconds() > 60:
            ApiToken.objects.filter(pk=found.pk).update(last_used=now)
        request.user = found.user
        return found.user


api = NinjaAPI(
    title="cmo API",
    version="1",
    description="Measures, results by measure × period × level, signals and patient-level rows "
    "(permission-checked and access-logged).",
    auth=[TokenAuth(), django_auth],
    docs_decorator=login_required,
    urls_namespace="api",
)


def _register() -> None:
    from cmo.quality.api import router as quality
    from cmo.safety.api import router as safety

    api.add_router("/quality/", quality)
    api.add_router("/safety/", safety)


_register()
