"""Helpers for the tenant-administration tests: people with a role, logged in."""

import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.e2e.conftest import PASSWORD, bearer, signup


@dataclass(frozen=True)
class Person:
    """A logged-in user: their row as the API shows it and a bearer access token."""

    user: dict[str, Any]
    token: str

    @property
    def id(self) -> str:
        return str(self.user["id"])

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass(frozen=True)
class Tenant:
    slug: str
    id: str
    owner: Person


def an_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def new_tenant(http: aiohttp.ClientSession) -> Tenant:
    result = await signup(http, email=an_email("owner"))
    owner = Person(result["user"], result["access_token"])
    return Tenant(result["tenant"]["slug"], result["tenant"]["id"], owner)


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    who: Person,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request as ``who``: (status, JSON body or None)."""
    async with http.request(
        method, path, json=body, headers=who.headers, params=params or None
    ) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def create_user(
    http: aiohttp.ClientSession,
    tenant: Tenant,
    role: str,
    *,
    by: Person | None = None,
    email: str | None = None,
    password: str | None = PASSWORD,
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email or an_email(role), "name": f"A {role}", "role": role}
    if password is not None:
        body["password"] = password
    status, user = await call(http, "POST", "/v1/users", by or tenant.owner, body)
    assert status == 201, user
    return dict(user)


async def login(http: aiohttp.ClientSession, tenant: Tenant, user: dict[str, Any]) -> Person:
    body = {"tenant": tenant.slug, "email": user["email"], "password": PASSWORD}
    async with http.post(
        "/v1/auth/login", json=body, headers={"X-Auth-Mode": "bearer"}
    ) as response:
        assert response.status == 200, await response.text()
        result = await response.json()
    return Person(result["user"], result["access_token"])


async def person(http: aiohttp.ClientSession, tenant: Tenant, role: str) -> Person:
    """A new user of ``tenant`` holding ``role``, logged in."""
    return await login(http, tenant, await create_user(http, tenant, role))


async def custom_role(
    http: aiohttp.ClientSession, tenant: Tenant, permissions: list[str], name: str | None = None
) -> dict[str, Any]:
    body = {
        "name": name or f"role-{uuid.uuid4().hex[:8]}",
        "description": "made by a test",
        "permissions": permissions,
    }
    status, role = await call(http, "POST", "/v1/roles", tenant.owner, body)
    assert status == 201, role
    return dict(role)
