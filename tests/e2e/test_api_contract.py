"""The published API documents match what the edge serves (OpenAPI, docs, schemathesis)."""

import re
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
import requests

from edge.routes import ROUTES
from tests.e2e.conftest import PASSWORD, assert_error, unique_slug
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
    # SPEC 4.3's public operational routes are part of the API too, without a token.
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == []
        assert "200" in operation["responses"]
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]


async def test_docs_render_from_local_files(http: aiohttp.ClientSession) -> None:
    async with http.get("/docs") as response:
        assert response.status == 200
        page = await response.text()
    assert "/openapi.json" in page
    assert "https://" not in page  # no CDN
    async with http.get("/docs/static/swagger-ui-bundle.js") as response:
        assert response.status == 200
        bundle = await response.read()
    assert len(bundle) > 100_000
    # Swagger UI 4 refuses to render "openapi": "3.1.0" ("Unable to render this
    # definition"); 5 has the OpenAPI 3.1 plugin.
    async with http.get("/openapi.json") as response:
        assert (await response.json())["openapi"].startswith("3.1")
    assert b"isOAS31" in bundle
    # Only the page's files, and anything else in the error shape: aiohttp's static route
    # answered a missing file with an empty 404 (and a bad Range with 416) after the
    # edge had logged and counted 200.
    for path in ("/docs/static/nope.js", "/docs/static/index.html", "/docs/static/"):
        async with http.get(path) as response:
            await assert_error(response, 404, "not_found")
    ranged = {"Range": "bytes=999999999-"}
    async with http.get("/docs/static/swagger-ui.css", headers=ranged) as response:
        assert response.status == 200
        assert response.content_type == "text/css"


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


CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


def test_the_api_honours_its_openapi_document(platform: Platform, api_token: str) -> None:
    """Schemathesis (its CLI, as a user would run it) against every operation: no 5xx, and
    every response documented, typed and shaped as the document says.

    Logout and logout-all are left out: they would end the session every later case uses;
    tests/e2e/test_auth_flow.py and test_session_control.py cover them.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{platform.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--header",
            f"Authorization: Bearer {api_token}",
            "--header",
            "X-Auth-Mode: bearer",
            "--exclude-path",
            "/v1/auth/logout",
            "--exclude-path",
            "/v1/auth/logout-all",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert generated is not None, report
    assert int(generated[1]) == int(generated[2]) >= 20 * len(ROUTES), report
