"""Request parameters never reach the engine as text: bad values are a 400 (pages) or 422 (API)
with a message, never a 500; and a fuzz run over the OpenAPI schema finds no 5xx."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

PATIENTS = "/quality/measure/IMORT/patients/"
BAD_PAGES = [
    (PATIENTS + "?level=unit&unit_id=loc-h1-icu%00", "unit_id"),
    (PATIENTS + "?level=site&unit_id=%00", "unit_id"),
    ("/quality/?site=org-h1%00", "site"),
    ("/quality/measure/IMORT/?site=%00%27%22", "site"),
    (PATIENTS + "?period_start=9999-12-31&period_type=year", "period_start"),
    (PATIENTS + "?period_start=0001-01-01&period_type=month", "period_start"),
    (PATIENTS + "?unit_id=" + "x" * 65, "unit_id"),
    ("/status/?qpage=" + str(10**18), "qpage"),
    ("/status/?qpage=99999999999999999999", "qpage"),
    ("/status/?qpage=-3", "qpage"),
    ("/access-log/?user=" + "a%25_" * 25_000, "user"),
    ("/access-log/?patient=" + "p" * 100_000, "patient"),
    ("/access-log/?page=" + "9" * 30, "page"),
]


@pytest.mark.parametrize(("url", "field"), BAD_PAGES)
def test_bad_page_parameters_are_400_with_a_plain_message(
    client_for: Any, url: str, field: str
) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert body.startswith("bad parameter:") and field in body
    assert len(body) < 500  # the message, not the input echoed back


def test_a_rejected_drill_down_is_not_logged(client_for: Any) -> None:
    from cmo.web.models import AccessLog

    client_for("cmo").get(PATIENTS + "?unit_id=%00")
    assert AccessLog.objects.count() == 0


BAD_API = [
    "/api/quality/measures/IMORT/results?unit_id=loc%00",
    "/api/quality/measures/IMORT/results?site_id=" + "s" * 100_000,
    "/api/quality/measures/IMORT/long?period_start=9999-12-31&period_type=year",
    "/api/quality/measures/IMORT/long?limit=99999999999999999999",
    "/api/quality/measures/IMORT/long?limit=0",
    "/api/quality/signals?site_id=%00",
    "/api/quality/measures/IM%00ORT/results",
]


@pytest.mark.parametrize("url", BAD_API)
def test_bad_api_parameters_are_422_with_a_message(client_for: Any, url: str) -> None:
    response = client_for("cmo").get(url)
    assert response.status_code == 422, response.content[:300]
    assert response.json()["detail"]


FUZZ_SECONDS = 45.0  # the whole fuzz run stays within a CI minute
FUZZ_EXAMPLES = 300  # per endpoint (the time bound stops it earlier on a busy machine)


def _value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Valid-looking and hostile values for a parameter of this JSON schema."""
    hostile = st.one_of(
        st.text(max_size=80),
        st.sampled_from(["\x00", "'; DROP TABLE x; --", "%", "_" * 300, "9" * 40, "-1", ""]),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.dates().map(str),
    )
    options: list[Any] = []
    for part in [schema, *schema.get("anyOf", [])]:
        if "enum" in part:
            options.append(st.sampled_from([str(v) for v in part["enum"]]))
        if part.get("type") == "integer":
            lo, hi = part.get("minimum", -(10**6)), part.get("maximum", 10**6)
            options.append(st.integers(min_value=lo - 5, max_value=hi + 5).map(str))
        if part.get("type") == "boolean":
            options.append(st.sampled_from(["true", "false", "1", "0", "yes"]))
        if part.get("format") == "date":
            options.append(st.dates().map(str))
        if part.get("type") == "string":
            options.append(st.from_regex(r"[A-Za-z0-9\-.]{1,70}", fullmatch=True))
    return st.one_of(*options, hostile)


def test_api_fuzz_over_the_openapi_schema_has_no_5xx(client_for: Any, capsys: Any) -> None:
    """Hypothesis draws every parameter of every GET endpoint from the schema (valid values,
    out-of-range numbers, NUL bytes, SQL text, long strings); no answer may be a 5xx."""
    client = client_for("cmo")
    schema = client.get("/api/openapi.json").json()
    tried, errors = 0, []
    start = time.monotonic()

    def request(path: str, params: list[dict[str, Any]], values: dict[str, str | None]) -> None:
        nonlocal tried
        if time.monotonic() - start > FUZZ_SECONDS:
            return
        url, query = path, {}
        for p in params:
            v = values[p["name"]]
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", urllib.parse.quote(v or "IMORT", ""))
            elif v is not None:
                query[p["name"]] = v
        response = client.get(url, query)
        tried += 1
        if response.status_code >= 500:
            errors.append((url, query, response.status_code))

    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        params = op.get("parameters", [])
        strategy = st.fixed_dictionaries(
            {p["name"]: st.one_of(st.none(), _value(p.get("schema", {}))) for p in params}
        )
        # ``given`` cannot wrap a function with defaults: bind path and params by closure.
        probe = _probe(request, path, params, strategy)
        probe()
    with capsys.disabled():
        print(f"\napi fuzz: {tried} requests, {len(errors)} responses >= 500")
    assert tried >= 100
    assert not errors, errors[:5]


def _probe(request: Any, path: str, params: list[dict[str, Any]], strategy: Any) -> Any:
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(values=strategy)
    def probe(values: dict[str, str | None]) -> None:
        request(path, params, values)

    return probe
