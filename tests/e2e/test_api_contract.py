"""The published API documents match what the edge serves (OpenAPI, docs, schemathesis)."""

from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from edge.routes import ROUTES
from tests.e2e.conftest import PASSWORD, unique_slug
from tests.support.platform import Platform


async def test_openapi_covers_every_route_with_its_routing_key(http: aiohttp.ClientSession) -> None:
    async with http.get("/openapi.json") as response:
        assert response.status == 200
        document: dict[str, Any] = await response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}
    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["x-routing-key"] == route.action.key
        assert str(route.status) in operation["responses"]
        if route.action.authenticated:
            assert operation["security"]
        if route.action.permission:
            assert operation["x-permission"] == route.action.permission


async def test_docs_render_from_local_files(http: aiohttp.ClientSession) -> None:
    async with http.get("/docs") as response:
        assert response.status == 200
        page = await response.text()
    assert "/openapi.json" in page
    assert "https://" not in page  # no CDN
    async with http.get("/docs/static/swagger-ui-bundle.js") as response:
        assert response.status == 200
        assert len(await response.read()) > 100_000


@pytest.fixture(scope="session")
def api_token(platform: Platform) -> str:
    body: dict[str, Any] = {
        "slug": unique_slug(),
        "name": "Fuzz",
        "owner": {"email": "fuzz@example.com", "password": PASSWORD, "name": "Fuzz"},
    }
    response = requests.post(
        f"{platform.url}/v1/tenants", json=body, headers={"X-Auth-Mode": "bearer"}, timeout=10
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_honours_its_openapi_document(platform: Platform, api_token: str) -> None:
    """Schemathesis on every operation: no 5xx, every response documented, typed and shaped.

    (Driven through Hypothesis directly: schemathesis' pytest plugin does not run on pytest 9.)
    """
    schema = schemathesis.openapi.from_url(f"{platform.url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_token}", "X-Auth-Mode": "bearer"}
    tested = []
    calls: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a bad document
        if operation.path == "/v1/auth/logout":
            continue  # would end the shared session for every later case; see test_auth_flow

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=15)
            calls.append(case.operation.label)

        conforms()
        tested.append(operation.label)
    assert len(tested) == len(ROUTES) - 1
    assert len(calls) >= 10 * len(tested)  # Hypothesis really exercised each operation
