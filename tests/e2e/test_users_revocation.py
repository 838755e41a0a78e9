"""Demotion, disabling and role changes bite within 1 s, while the old token is unexpired."""

import time
from typing import Any

import aiohttp
import jwt

from tests.e2e.admin_support import Person, an_email, call, custom_role, new_tenant, person
from tests.e2e.conftest import assert_error

ONE_SECOND = 1.0


def _unexpired(who: Person) -> None:
    claims: dict[str, Any] = jwt.decode(who.token, options={"verify_signature": False})
    assert claims["exp"] > time.time() + 60


def _new_user() -> dict[str, Any]:
    return {"email": an_email(), "name": "Made", "role": "member"}


async def test_a_demoted_admin_loses_writes_at_once(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    admin = await person(http, tenant, "admin")
    # Warm the worker's cache with the admin role: the demotion must invalidate it.
    status, _ = await call(http, "POST", "/v1/users", admin, _new_user())
    assert status == 201
    status, _ = await call(http, "GET", "/v1/audit", admin)
    assert status == 200
    status, body = await call(
        http, "PUT", f"/v1/users/{admin.id}/role", tenant.owner, {"role": "member"}
    )
    assert status == 200, body
    started = time.monotonic()
    status, body = await call(http, "POST", "/v1/users", admin, _new_user())
    assert status == 403, body
    status, body = await call(http, "GET", "/v1/audit", admin)
    assert status == 403, body
    assert time.monotonic() - started < ONE_SECOND
    _unexpired(admin)
    # What a member may do still works with the same token.
    status, _ = await call(http, "GET", "/v1/users", admin)
    assert status == 200


async def test_a_disabled_user_is_refused_at_once(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    admin = await person(http, tenant, "admin")
    status, _ = await call(http, "GET", "/v1/users", admin)
    assert status == 200
    path = f"/v1/users/{admin.id}"
    status, _ = await call(http, "PATCH", path, tenant.owner, {"status": "disabled"})
    assert status == 200
    started = time.monotonic()
    for method, route in (("GET", "/v1/users"), ("GET", "/v1/auth/me"), ("POST", "/v1/users")):
        body = _new_user() if method == "POST" else None
        async with http.request(method, route, json=body, headers=admin.headers) as response:
            await assert_error(response, 401)
    assert time.monotonic() - started < ONE_SECOND
    _unexpired(admin)


async def test_taking_a_permission_from_a_custom_role_bites_at_once(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    role = await custom_role(http, tenant, ["users:read", "users:write", "roles:read"])
    holder = await person(http, tenant, role["name"])
    body = {"email": an_email(), "name": "X", "role": role["name"], "password": None}
    body.pop("password")
    status, reply = await call(http, "POST", "/v1/users", holder, body)
    assert status == 201, reply
    status, reply = await call(
        http, "PATCH", f"/v1/roles/{role['id']}", tenant.owner, {"permissions": ["users:read"]}
    )
    assert status == 200, reply
    started = time.monotonic()
    status, reply = await call(http, "POST", "/v1/users", holder, {**body, "email": an_email()})
    assert status == 403, reply
    assert time.monotonic() - started < ONE_SECOND
    status, _ = await call(http, "GET", "/v1/users", holder)
    assert status == 200


async def test_a_promotion_needs_a_new_token_but_a_demotion_does_not(
    http: aiohttp.ClientSession,
) -> None:
    """The worker only narrows what the token allows; it never widens it."""
    tenant = await new_tenant(http)
    member = await person(http, tenant, "member")
    status, _ = await call(
        http, "PUT", f"/v1/users/{member.id}/role", tenant.owner, {"role": "admin"}
    )
    assert status == 200
    status, _ = await call(http, "GET", "/v1/audit", member)
    assert status == 403
