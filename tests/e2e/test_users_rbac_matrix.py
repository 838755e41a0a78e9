"""Every administration route against each built-in role and a custom one: allowed or 403."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from contracts.permissions import BUILTIN_ROLES
from tests.e2e.admin_support import (
    Person,
    Tenant,
    an_email,
    call,
    create_user,
    custom_role,
    new_tenant,
    person,
)
from tests.support.platform import Platform

CUSTOM = ("tenant:read", "users:read", "users:write", "roles:read", "audit:read")
ROLE_PERMISSIONS = {**BUILTIN_ROLES, "custom": CUSTOM}


@dataclass(frozen=True)
class World:
    http: aiohttp.ClientSession
    tenant: Tenant
    people: dict[str, Person]
    viewer_role: dict[str, Any]


@pytest.fixture(scope="module")
async def world(platform: Platform) -> AsyncIterator[World]:
    async with aiohttp.ClientSession(
        base_url=platform.url, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        tenant = await new_tenant(http)
        viewer = await custom_role(http, tenant, ["tenant:read"], name="viewer")
        await custom_role(http, tenant, ["tenant:read"], name="viewer-b")
        await custom_role(http, tenant, list(CUSTOM), name="custom")
        people = {"owner": tenant.owner}
        for role in ("admin", "member", "custom"):
            people[role] = await person(http, tenant, role)
        yield World(http, tenant, people, viewer)


Request = tuple[str, str, dict[str, Any] | None]
Prepare = Callable[[World], Awaitable[Request]]


async def _viewer(world: World) -> str:
    user = await create_user(world.http, world.tenant, "viewer", password=None)
    return str(user["id"])


async def _fresh_role(world: World) -> str:
    role = await custom_role(world.http, world.tenant, ["tenant:read"])
    return str(role["id"])


async def tenant_get(w: World) -> Request:
    return "GET", "/v1/tenant", None


async def tenant_update(w: World) -> Request:
    return "PATCH", "/v1/tenant", {"settings": {"touched": uuid.uuid4().hex}}


async def users_list(w: World) -> Request:
    return "GET", "/v1/users", None


async def users_create(w: World) -> Request:
    return "POST", "/v1/users", {"email": an_email(), "name": "New", "role": "viewer"}


async def users_get(w: World) -> Request:
    return "GET", f"/v1/users/{await _viewer(w)}", None


async def users_update(w: World) -> Request:
    return "PATCH", f"/v1/users/{await _viewer(w)}", {"name": "Renamed"}


async def users_delete(w: World) -> Request:
    return "DELETE", f"/v1/users/{await _viewer(w)}", None


async def users_set_role(w: World) -> Request:
    return "PUT", f"/v1/users/{await _viewer(w)}/role", {"role": "viewer-b"}


async def audit_list(w: World) -> Request:
    return "GET", "/v1/audit", None


async def roles_list(w: World) -> Request:
    return "GET", "/v1/roles", None


async def roles_get(w: World) -> Request:
    return "GET", f"/v1/roles/{w.viewer_role['id']}", None


async def roles_create(w: World) -> Request:
    name = f"r-{uuid.uuid4().hex[:8]}"
    return "POST", "/v1/roles", {"name": name, "permissions": ["tenant:read"]}


async def roles_update(w: World) -> Request:
    return "PATCH", f"/v1/roles/{await _fresh_role(w)}", {"description": "changed"}


async def roles_delete(w: World) -> Request:
    return "DELETE", f"/v1/roles/{await _fresh_role(w)}", None


async def permissions(w: World) -> Request:
    return "GET", "/v1/permissions", None


ROUTES: dict[str, tuple[Prepare, str]] = {
    "GET /v1/tenant": (tenant_get, "tenant:read"),
    "PATCH /v1/tenant": (tenant_update, "tenant:manage"),
    "GET /v1/users": (users_list, "users:read"),
    "POST /v1/users": (users_create, "users:write"),
    "GET /v1/users/{id}": (users_get, "users:read"),
    "PATCH /v1/users/{id}": (users_update, "users:write"),
    "DELETE /v1/users/{id}": (users_delete, "users:delete"),
    "PUT /v1/users/{id}/role": (users_set_role, "roles:assign"),
    "GET /v1/audit": (audit_list, "audit:read"),
    "GET /v1/roles": (roles_list, "roles:read"),
    "GET /v1/roles/{id}": (roles_get, "roles:read"),
    "POST /v1/roles": (roles_create, "roles:write"),
    "PATCH /v1/roles/{id}": (roles_update, "roles:write"),
    "DELETE /v1/roles/{id}": (roles_delete, "roles:write"),
    "GET /v1/permissions": (permissions, "roles:read"),
}
SUCCESS = {"GET": 200, "PATCH": 200, "PUT": 200, "POST": 201, "DELETE": 204}


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
@pytest.mark.parametrize("route", list(ROUTES))
async def test_a_route_is_allowed_exactly_when_the_role_holds_its_permission(
    world: World, role: str, route: str
) -> None:
    prepare, permission = ROUTES[route]
    method, path, body = await prepare(world)
    status, reply = await call(world.http, method, path, world.people[role], body)
    if permission in ROLE_PERMISSIONS[role]:
        assert status == SUCCESS[method], reply
    else:
        assert status == 403, reply
        assert reply["error"]["code"] == "forbidden"


def test_the_matrix_covers_every_route_of_the_two_families() -> None:
    from edge.routes import ROUTES as EDGE_ROUTES

    ours = {f"{r.method} {r.path}" for r in EDGE_ROUTES if r.action.family in {"users", "roles"}}
    assert ours == set(ROUTES)
