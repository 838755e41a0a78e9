"""A 201 says where the created resource is (RFC 9110 15.3.2: ``Location``), and a GET
there as the creator finds it."""

import uuid

import aiohttp

from tests.e2e.conftest import PASSWORD, bearer, unique_slug
from tests.e2e.files_support import declare


async def test_every_201_names_the_created_resource(http: aiohttp.ClientSession) -> None:
    body = {
        "slug": unique_slug(),
        "name": "Located",
        "owner": {"email": "owner@example.com", "password": PASSWORD, "name": "Owner"},
    }
    async with http.post("/v1/tenants", json=body, headers={"X-Auth-Mode": "bearer"}) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Location"] == "/v1/tenant"
        token = (await r.json())["access_token"]
    auth = bearer(token)
    created = []
    user = {"email": f"u-{uuid.uuid4().hex[:8]}@example.com", "name": "U", "role": "member"}
    async with http.post("/v1/users", json=user, headers=auth) as r:
        assert r.status == 201, await r.text()
        created.append((r.headers["Location"], f"/v1/users/{(await r.json())['id']}"))
    role = {"name": f"r-{uuid.uuid4().hex[:8]}", "permissions": ["users:read"]}
    async with http.post("/v1/roles", json=role, headers=auth) as r:
        assert r.status == 201, await r.text()
        created.append((r.headers["Location"], f"/v1/roles/{(await r.json())['id']}"))
    async with await declare(http, token) as r:
        assert r.status == 201, await r.text()
        created.append((r.headers["Location"], f"/v1/files/{(await r.json())['file']['id']}"))
    for location, expected in [*created, ("/v1/tenant", "/v1/tenant")]:
        assert location == expected
        async with http.get(location, headers=auth) as r:
            assert r.status == 200, (location, await r.text())
