"""Built-in and custom roles: read-only built-ins, the catalogue, names, roles in use."""

import aiohttp

from contracts.permissions import PERMISSIONS
from tests.e2e.admin_support import an_email, call, create_user, custom_role, new_tenant
from tests.e2e.conftest import assert_error


async def test_every_tenant_has_three_read_only_built_ins(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    status, body = await call(http, "GET", "/v1/roles", tenant.owner)
    assert status == 200
    roles = {r["name"]: r for r in body["items"]}
    assert set(roles) == {"owner", "admin", "member"}
    assert roles["owner"]["permissions"] == sorted(PERMISSIONS)
    assert "tenant:manage" not in roles["admin"]["permissions"]
    assert len(roles["admin"]["permissions"]) == 13
    assert roles["member"]["permissions"] == sorted(
        ["tenant:read", "users:read", "roles:read", "files:read", "files:write"]
    )
    assert all(r["builtin"] for r in roles.values())
    for role in roles.values():
        status, one = await call(http, "GET", f"/v1/roles/{role['id']}", tenant.owner)
        assert one == role
        path = f"/v1/roles/{role['id']}"
        async with http.patch(
            path, json={"description": "mine now"}, headers=tenant.owner.headers
        ) as response:
            await assert_error(response, 409, "conflict")
        async with http.delete(path, headers=tenant.owner.headers) as response:
            await assert_error(response, 409, "conflict")


async def test_the_permission_catalogue(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    status, body = await call(http, "GET", "/v1/permissions", tenant.owner)
    assert status == 200
    assert [p["name"] for p in body["items"]] == list(PERMISSIONS)
    assert all(p["description"] for p in body["items"])


async def test_custom_roles_are_validated(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    for body in (
        {"name": "x-role", "permissions": ["users:read", "users:fly"]},
        {"name": "bell\u0007ringer", "permissions": []},
        {"name": "   ", "permissions": []},
        {"name": "x" * 65, "permissions": []},
        {"name": "x-role", "permissions": "users:read"},
        {"name": "x-role", "permissions": [], "builtin": True},
    ):
        async with http.post("/v1/roles", json=body, headers=tenant.owner.headers) as response:
            error = await assert_error(response, 400, "invalid_request")
            assert error["details"]
    role = await custom_role(http, tenant, ["users:read", "users:read", "audit:read"], name="ops")
    assert role["permissions"] == ["audit:read", "users:read"]
    assert role["builtin"] is False
    for name in ("ops", "OPS", "owner", "Member"):
        taken: dict[str, object] = {"name": name, "permissions": []}
        async with http.post("/v1/roles", json=taken, headers=tenant.owner.headers) as response:
            await assert_error(response, 409, "conflict")
    other = await custom_role(http, tenant, [], name="other")
    async with http.patch(
        f"/v1/roles/{other['id']}", json={"name": "ops"}, headers=tenant.owner.headers
    ) as response:
        await assert_error(response, 409, "conflict")
    # The same name in another tenant is fine.
    await custom_role(http, await new_tenant(http), [], name="ops")
    # Names are free text: what people call roles, kept as given, assignable by it.
    for name in ("Editor", "Support agent", "Überprüfer"):
        role = await custom_role(http, tenant, ["users:read"], name=name)
        assert role["name"] == name
    user = await create_user(http, tenant, "Support agent", email=an_email(), password=None)
    assert user["role"] == "Support agent"


async def test_a_role_in_use_cannot_be_deleted(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    role = await custom_role(http, tenant, ["tenant:read"])
    user = await create_user(http, tenant, role["name"], password=None)
    path = f"/v1/roles/{role['id']}"
    async with http.delete(path, headers=tenant.owner.headers) as response:
        await assert_error(response, 409, "conflict")
    status, _ = await call(
        http, "PUT", f"/v1/users/{user['id']}/role", tenant.owner, {"role": "member"}
    )
    assert status == 200
    status, _ = await call(http, "DELETE", path, tenant.owner)
    assert status == 204
    status, _ = await call(http, "GET", path, tenant.owner)
    assert status == 404
    status, audit = await call(http, "GET", "/v1/audit", tenant.owner)
    actions = [e["action"] for e in audit["items"] if e["target_type"] == "role"]
    assert actions == ["role.deleted", "role.created"]


async def test_a_custom_role_is_changed(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    role = await custom_role(http, tenant, ["tenant:read"])
    patch = {"name": "renamed", "description": "new words", "permissions": ["audit:read"]}
    status, body = await call(http, "PATCH", f"/v1/roles/{role['id']}", tenant.owner, patch)
    assert status == 200, body
    assert body["name"] == "renamed"
    assert body["description"] == "new words"
    assert body["permissions"] == ["audit:read"]
    assert body["updated_at"] >= role["updated_at"]
    status, audit = await call(
        http, "GET", "/v1/audit", tenant.owner, params={"action": "role.updated"}
    )
    assert audit["items"][0]["data"]["changes"] == ["description", "name", "permissions"]
