"""Tenant B's admin aims every users, roles and audit route at tenant A: nothing gives."""

from typing import Any

import aiohttp

from tests.e2e.admin_support import Tenant, call, create_user, custom_role, new_tenant, person


async def _snapshot(http: aiohttp.ClientSession, a: Tenant) -> dict[str, Any]:
    """Everything tenant A's owner can see of its own tenant, audit excluded."""
    snapshot: dict[str, Any] = {}
    for path in ("/v1/tenant", "/v1/users", "/v1/roles"):
        status, body = await call(http, "GET", path, a.owner)
        assert status == 200
        snapshot[path] = body
    return snapshot


async def test_tenant_b_cannot_reach_tenant_a(http: aiohttp.ClientSession) -> None:
    a, b = await new_tenant(http), await new_tenant(http)
    a_member = await create_user(http, a, "member")
    a_role = await custom_role(http, a, ["tenant:read"], name="only-in-a")
    b_admin = await person(http, b, "admin")
    status, a_users = await call(http, "GET", "/v1/users", a.owner, params={"limit": "1"})
    a_cursor = a_users["next_cursor"]
    status, a_audit = await call(http, "GET", "/v1/audit", a.owner, params={"limit": "1"})
    a_audit_cursor = a_audit["next_cursor"]
    assert a_cursor
    assert a_audit_cursor
    before = await _snapshot(http, a)

    for attacker in (b.owner, b_admin):
        for target in (a_member["id"], a.owner.id):
            for method, suffix, body in (
                ("GET", "", None),
                ("PATCH", "", {"name": "pwned"}),
                ("PATCH", "", {"status": "disabled"}),
                ("PUT", "/role", {"role": "member"}),
                ("DELETE", "", None),
            ):
                status, reply = await call(
                    http, method, f"/v1/users/{target}{suffix}", attacker, body
                )
                assert status == 404, (method, suffix, reply)
                assert reply["error"]["code"] == "not_found"
        role_requests: list[tuple[str, dict[str, Any] | None]] = [
            ("GET", None),
            ("PATCH", {"permissions": ["tenant:read", "users:read"]}),
            ("DELETE", None),
        ]
        for method, role_body in role_requests:
            status, reply = await call(
                http, method, f"/v1/roles/{a_role['id']}", attacker, role_body
            )
            assert status == 404, (method, reply)
        for params in (
            {"q": a_member["email"]},
            {"q": a.owner.user["email"]},
            {"role": "only-in-a"},
            {"cursor": a_cursor},
        ):
            status, page = await call(http, "GET", "/v1/users", attacker, params=params)
            assert status == 200
            assert all(u["tenant_id"] == b.id for u in page["items"]), params
            if "q" in params or "role" in params:
                assert page == {"items": [], "next_cursor": None}
        status, roles = await call(http, "GET", "/v1/roles", attacker)
        assert "only-in-a" not in {r["name"] for r in roles["items"]}
        for params in ({}, {"action": "user.created"}, {"cursor": a_audit_cursor}):
            status, page = await call(http, "GET", "/v1/audit", attacker, params=params)
            assert status == 200
            targets = {e["target_id"] for e in page["items"]}
            assert a_member["id"] not in targets
            assert a.owner.id not in targets
            assert a.id not in targets
        status, tenant = await call(http, "GET", "/v1/tenant", attacker)
        assert tenant["id"] == b.id
        # A's role name means nothing in B.
        new = {"email": "x@example.com", "name": "X", "role": "only-in-a"}
        status, reply = await call(http, "POST", "/v1/users", attacker, new)
        assert status == 400, reply

    assert await _snapshot(http, a) == before
    status, audit = await call(http, "GET", "/v1/audit", a.owner, params={"limit": "200"})
    assert {e["actor_id"] for e in audit["items"]} <= {a.owner.id, None}
