"""Creating, inviting, reading, changing and deleting users, and the guards around them."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from idp.settings import Settings
from tests.e2e.admin_support import (
    Person,
    an_email,
    call,
    create_user,
    custom_role,
    login,
    new_tenant,
    person,
)
from tests.e2e.conftest import PASSWORD, assert_error
from tests.support.events import EventTap, event_tap
from tests.support.platform import Platform


@pytest.fixture
async def events(platform: Platform, settings: Settings) -> AsyncIterator[EventTap]:
    async with event_tap(settings.amqp_url, "#") as tap:
        yield tap


async def test_a_user_created_with_a_password_is_active_and_can_log_in(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    user = await create_user(http, tenant, "member")
    assert user["status"] == "active"
    assert user["role"] == "member"
    assert user["tenant_id"] == tenant.id
    assert "password" not in user
    assert "password_hash" not in user
    member = await login(http, tenant, user)
    assert member.id == user["id"]


async def test_an_invited_user_gets_a_single_use_token_in_the_event(
    http: aiohttp.ClientSession, events: EventTap
) -> None:
    tenant = await new_tenant(http)
    user = await create_user(http, tenant, "member", password=None)
    assert user["status"] == "invited"
    invited = await events.wait_for("user.invited", tenant.id)
    assert invited["data"]["user"]["id"] == user["id"]
    assert set(invited) == {"id", "type", "occurred_at", "tenant_id", "data"}
    # Every instant in an event reads like the models' (RFC 3339, UTC, "Z").
    stamps = [invited["occurred_at"], invited["data"]["expires_at"]]
    stamps.append(invited["data"]["user"]["created_at"])
    assert all(stamp.endswith("Z") for stamp in stamps), stamps
    sent = datetime.fromisoformat(invited["occurred_at"])
    expires = datetime.fromisoformat(invited["data"]["expires_at"])
    assert timedelta(days=6, hours=23) < expires - sent <= timedelta(days=7)
    token = invited["data"]["token"]
    assert token.startswith(tenant.id.replace("-", "") + ".")
    assert len(token) > 60
    created = await events.wait_for("user.created", tenant.id, user=invited["data"]["user"])
    assert created["data"]["user"]["status"] == "invited"
    # An invited user cannot log in before setting a password.
    body = {"tenant": tenant.slug, "email": user["email"], "password": "whatever it is"}
    async with http.post("/v1/auth/login", json=body) as response:
        await assert_error(response, 401, "invalid_credentials")
    # Its status moves only through the invitation: activating it by hand is a conflict.
    path = f"/v1/users/{user['id']}"
    status, body = await call(http, "PATCH", path, tenant.owner, {"status": "active"})
    assert status == 409, body
    status, audit = await call(
        http, "GET", "/v1/audit", tenant.owner, params={"action": "user.invited"}
    )
    assert status == 200
    assert [e["target_id"] for e in audit["items"]] == [user["id"]]
    assert "token" not in str(audit["items"][0]["data"])
    # Accepting it (the reset confirm with the invitation's token) activates the user and
    # verifies the address, and the event says so.
    accept = {"token": token, "new_password": "an invited user's passphrase"}
    async with http.post("/v1/auth/password-reset/confirm", json=accept) as response:
        assert response.status == 204, await response.text()
    updated = await events.wait_for("user.updated", tenant.id, changes=["status", "email_verified"])
    assert updated["data"]["user"]["id"] == user["id"]
    assert updated["data"]["user"]["status"] == "active"


async def test_users_are_listed_and_filtered(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    alice = await create_user(http, tenant, "admin", email=an_email("alice"))
    bob = await create_user(http, tenant, "member", email=an_email("bob"), password=None)
    status, page = await call(http, "GET", "/v1/users", tenant.owner)
    assert status == 200
    assert [u["id"] for u in page["items"]] == [tenant.owner.id, alice["id"], bob["id"]]
    assert page["next_cursor"] is None

    async def ids(**params: str) -> list[str]:
        status, page = await call(http, "GET", "/v1/users", tenant.owner, params=params)
        assert status == 200, page
        return [u["id"] for u in page["items"]]

    assert await ids(q="ALICE") == [alice["id"]]
    assert await ids(q="A bob") == []
    assert await ids(q="A member") == [bob["id"]]  # names match too
    assert await ids(q="%") == []  # wildcards are literal
    assert await ids(role="admin") == [alice["id"]]
    assert await ids(role="nobody") == []
    assert await ids(status="invited") == [bob["id"]]
    assert await ids(status="active", role="owner") == [tenant.owner.id]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"cursor": "!!"},
        {"status": "sleeping"},
    ],
)
async def test_bad_list_parameters_are_400(
    http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    tenant = await new_tenant(http)
    async with http.get("/v1/users", params=params, headers=tenant.owner.headers) as response:
        await assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/users/not-a-uuid", None),
        ("PATCH", "/v1/users/not-a-uuid", {"name": "x"}),
        ("DELETE", "/v1/users/123", None),
        ("PUT", "/v1/users/x/role", {"role": "member"}),
        ("GET", "/v1/users/00000000-0000-0000-0000-000000000000", None),
        ("GET", "/v1/roles/not-a-uuid", None),
        ("PATCH", "/v1/roles/nope", {"description": "x"}),
        ("DELETE", "/v1/roles/%20", None),
    ],
)
async def test_malformed_and_unknown_ids_are_404(
    http: aiohttp.ClientSession, method: str, path: str, body: dict[str, Any] | None
) -> None:
    tenant = await new_tenant(http)
    async with http.request(method, path, json=body, headers=tenant.owner.headers) as response:
        await assert_error(response, 404, "not_found")


async def test_the_last_owner_cannot_be_demoted_disabled_or_deleted(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    path = f"/v1/users/{tenant.owner.id}"
    for method, suffix, body in (
        ("PUT", "/role", {"role": "admin"}),
        ("PATCH", "", {"status": "disabled"}),
        ("DELETE", "", None),
    ):
        async with http.request(
            method, path + suffix, json=body, headers=tenant.owner.headers
        ) as response:
            await assert_error(response, 409, "conflict")
    # With a second owner, the first may step down; then the second is the last one.
    second = await person(http, tenant, "owner")
    status, body = await call(http, "PUT", path + "/role", tenant.owner, {"role": "admin"})
    assert status == 200, body
    assert body["role"] == "admin"
    status, body = await call(http, "DELETE", f"/v1/users/{second.id}", second)
    assert status == 409, body


async def test_nobody_grants_what_they_do_not_hold(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    admin = await person(http, tenant, "admin")
    member = await create_user(http, tenant, "member")
    body = {"email": an_email(), "name": "X", "role": "owner", "password": "a long passphrase"}
    status, _ = await call(http, "POST", "/v1/users", admin, body)
    assert status == 403
    status, _ = await call(http, "PUT", f"/v1/users/{member['id']}/role", admin, {"role": "owner"})
    assert status == 403
    role = {"name": "almost-owner", "permissions": ["tenant:manage"]}
    status, _ = await call(http, "POST", "/v1/roles", admin, role)
    assert status == 403
    # Whoever asks, the last owner stays: 409, the answer SPEC 4.3 names for it.
    owner_path = f"/v1/users/{tenant.owner.id}"
    touches = (
        ("PATCH", owner_path, {"status": "disabled"}),
        ("PUT", owner_path + "/role", {"role": "member"}),
        ("DELETE", owner_path, None),
    )
    for method, path, change in touches:
        status, body = await call(http, method, path, admin, change)
        assert (status, body["error"]["code"]) == (409, "conflict"), (method, body)
    # With another owner, an admin still touches nobody who holds more than they do.
    await person(http, tenant, "owner")
    for method, path, change in touches:
        status, body = await call(http, method, path, admin, change)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (method, body)
    # What they do hold, they may grant.
    status, body = await call(
        http, "PUT", f"/v1/users/{member['id']}/role", admin, {"role": "admin"}
    )
    assert status == 200, body
    status, body = await call(
        http, "PUT", f"/v1/users/{member['id']}/role", admin, {"role": "ghost"}
    )
    assert status == 400, body
    assert body["error"]["details"][0]["field"] == "role"


async def test_self_may_read_and_rename_itself_without_users_permissions(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    await custom_role(http, tenant, ["tenant:read"], name="reader")
    me = await person(http, tenant, "reader")
    other = await create_user(http, tenant, "member")
    status, body = await call(http, "GET", f"/v1/users/{me.id}", me)
    assert status == 200
    assert body["role"] == "reader"
    status, body = await call(http, "PATCH", f"/v1/users/{me.id}", me, {"name": "New Name"})
    assert status == 200
    assert body["name"] == "New Name"
    status, _ = await call(http, "PATCH", f"/v1/users/{me.id}", me, {"status": "disabled"})
    assert status == 403
    # A profile form that sends the unchanged status along is still just a rename.
    change = {"name": "Newer Name", "status": "active"}
    status, body = await call(http, "PATCH", f"/v1/users/{me.id}", me, change)
    assert (status, body["name"]) == (200, "Newer Name")
    status, _ = await call(http, "GET", f"/v1/users/{other['id']}", me)
    assert status == 403
    status, _ = await call(http, "PATCH", f"/v1/users/{other['id']}", me, {"name": "x"})
    assert status == 403


async def test_an_old_token_does_not_gain_a_permission_its_role_gained(
    http: aiohttp.ClientSession,
) -> None:
    """Reading another user names no permission at the edge (reading oneself needs
    none), so only the worker checked, against the current role: an old token gained
    users:read there at once while GET /v1/users stayed 403. The worker only narrows
    what the token allows; a promotion needs a new token, as a refresh gives."""
    tenant = await new_tenant(http)
    role = await custom_role(http, tenant, ["files:read"])
    user = await create_user(http, tenant, role["name"])
    body = {"tenant": tenant.slug, "email": user["email"], "password": PASSWORD}
    async with http.post("/v1/auth/login", json=body, headers={"X-Auth-Mode": "bearer"}) as r:
        pair = await r.json()
    old = Person(pair["user"], pair["access_token"])
    owner_path = f"/v1/users/{tenant.owner.id}"
    assert (await call(http, "GET", owner_path, old))[0] == 403
    change = {"permissions": ["files:read", "users:read"]}
    status, _ = await call(http, "PATCH", f"/v1/roles/{role['id']}", tenant.owner, change)
    assert status == 200
    assert (await call(http, "GET", owner_path, old))[0] == 403
    assert (await call(http, "GET", "/v1/users", old))[0] == 403
    async with http.post(
        "/v1/auth/refresh",
        json={"refresh_token": pair["refresh_token"]},
        headers={"X-Auth-Mode": "bearer"},
    ) as r:
        renewed = Person(pair["user"], (await r.json())["access_token"])
    assert (await call(http, "GET", owner_path, renewed))[0] == 200
    assert (await call(http, "GET", f"/v1/users/{old.id}", old))[0] == 200  # oneself


@pytest.mark.parametrize(
    "name",
    [
        "Bob\u202eNIMDA",  # shows as "BobADMIN"
        "Bob\u009b2J\u009b31mOWNER",  # terminal escapes
        "\u200b",
        "\u2066Eve\u2069",
        "Al\u2028ice",
        "\u3164",  # a Hangul filler: shows as nothing
    ],
)
async def test_names_that_would_mislead_are_refused(http: aiohttp.ClientSession, name: str) -> None:
    """A person's and a role's name are shown to other users: like a file's, they must
    read as they are (an audit renamed a member "Bob\u202eNIMDA" and made roles that
    look like "owner"). The joiners emoji and some scripts need stay allowed."""
    tenant = await new_tenant(http)
    me = await person(http, tenant, "member")
    status, error = await call(http, "PATCH", f"/v1/users/{me.id}", me, {"name": name})
    assert status == 400, error
    assert [d["field"] for d in error["error"]["details"]] == ["name"]
    status, error = await call(
        http, "POST", "/v1/roles", tenant.owner, {"name": name, "permissions": []}
    )
    assert status == 400, error
    assert [d["field"] for d in error["error"]["details"]] == ["name"]
    for fine in ("Zo\u00eb \U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0645\u06cc\u200c\u062e"):
        status, body = await call(http, "PATCH", f"/v1/users/{me.id}", me, {"name": fine})
        assert (status, body["name"]) == (200, fine)


async def test_disabling_and_deleting_end_sessions_and_write_audit_and_events(
    http: aiohttp.ClientSession, events: EventTap
) -> None:
    tenant = await new_tenant(http)
    member = await person(http, tenant, "member")
    path = f"/v1/users/{member.id}"
    status, body = await call(http, "PATCH", path, tenant.owner, {"status": "disabled"})
    assert status == 200
    assert body["status"] == "disabled"
    async with http.get("/v1/auth/me", headers=member.headers) as response:
        await assert_error(response, 401)
    updated = await events.wait_for("user.updated", tenant.id, changes=["status"])
    assert updated["data"]["user"]["id"] == member.id
    assert updated["data"]["user"]["status"] == "disabled"
    revoked = await events.wait_for("session.revoked", tenant.id, reason="user_disabled")
    assert revoked["data"]["user_id"] == member.id
    status, body = await call(http, "PATCH", path, tenant.owner, {"status": "active"})
    assert status == 200
    member = await login(http, tenant, member.user)
    status, _ = await call(http, "DELETE", path, tenant.owner)
    assert status == 204
    async with http.get("/v1/auth/me", headers=member.headers) as response:
        await assert_error(response, 401)
    status, _ = await call(http, "GET", path, tenant.owner)
    assert status == 404
    await events.wait_for("user.deleted", tenant.id, user_id=member.id)
    status, audit = await call(http, "GET", "/v1/audit", tenant.owner)
    actions = [e["action"] for e in audit["items"]]
    assert actions.index("user.deleted") < actions.index("user.updated")
    assert "session.revoked" in actions


async def test_the_tenant_is_read_and_patched(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    status, body = await call(http, "GET", "/v1/tenant", tenant.owner)
    assert status == 200
    assert body["id"] == tenant.id
    assert body["settings"] == {}
    patch = {"name": "Renamed", "settings": {"locale": "fr", "brand": {"color": "red"}}}
    status, body = await call(http, "PATCH", "/v1/tenant", tenant.owner, patch)
    assert status == 200, body
    assert body["name"] == "Renamed"
    patch = {"settings": {"brand": {"logo": "x.png"}, "locale": None}}
    status, body = await call(http, "PATCH", "/v1/tenant", tenant.owner, patch)
    assert body["settings"] == {"brand": {"color": "red", "logo": "x.png"}}
    status, body = await call(
        http, "PATCH", "/v1/tenant", tenant.owner, {"settings": {"big": "x" * 20000}}
    )
    assert status == 400
    assert body["error"]["details"] == [{"field": "settings", "message": "at most 16384 bytes"}]
    # A patch far past that is refused before it is read through, in the same shape.
    status, body = await call(
        http, "PATCH", "/v1/tenant", tenant.owner, {"settings": {"k": [[0]] * 200_000}}
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"] == [
        {"field": "settings", "message": "at most 65536 bytes of JSON"}
    ]
    status, body = await call(http, "PATCH", "/v1/tenant", tenant.owner, {"slug": "other"})
    assert status == 400
    status, audit = await call(
        http, "GET", "/v1/audit", tenant.owner, params={"action": "tenant.updated"}
    )
    assert [e["data"]["changes"] for e in audit["items"]] == [["settings"], ["name", "settings"]]
    # RFC 7386 at the tenant's level: "settings": null removes them (it changed nothing).
    status, body = await call(http, "PATCH", "/v1/tenant", tenant.owner, {"settings": None})
    assert (status, body["settings"], body["name"]) == (200, {}, "Renamed")


async def test_tenant_updates_at_once_are_applied_one_after_another(
    http: aiohttp.ClientSession,
) -> None:
    """Eight PATCHes at once: each message's idempotency record holds a key share on the
    tenant row, which a FOR UPDATE lock would wait for (a deadlock, 503 on every retry).
    They serialise instead: all 200, every key merged."""
    tenant = await new_tenant(http)
    statuses = await asyncio.gather(
        *(
            call(http, "PATCH", "/v1/tenant", tenant.owner, {"settings": {f"k{i}": i}})
            for i in range(8)
        )
    )
    assert [status for status, _ in statuses] == [200] * 8, statuses
    status, body = await call(http, "GET", "/v1/tenant", tenant.owner)
    assert status == 200
    assert body["settings"] == {f"k{i}": i for i in range(8)}


async def test_the_audit_trail_pages_newest_first(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    for _ in range(5):
        await create_user(http, tenant, "member", password=None)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", "action": "user.created"}
        if cursor:
            params["cursor"] = cursor
        status, page = await call(http, "GET", "/v1/audit", tenant.owner, params=params)
        assert status == 200
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert {e["action"] for e in seen} == {"user.created"}
    stamps = [e["occurred_at"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert all(e["actor_id"] == tenant.owner.id for e in seen)


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    second = await person(http, tenant, "owner")
    results = await asyncio.gather(
        call(http, "PUT", f"/v1/users/{second.id}/role", tenant.owner, {"role": "admin"}),
        call(http, "PUT", f"/v1/users/{tenant.owner.id}/role", second, {"role": "admin"}),
    )
    statuses = sorted(status for status, _ in results)
    # The loser is refused either by the last-owner guard (409) or, when the winner's
    # demotion committed first, because it is no longer an owner (403).
    assert statuses[0] == 200, results
    assert statuses[1] in (403, 409), results
    status, page = await call(
        http, "GET", "/v1/users", tenant.owner, params={"role": "owner", "status": "active"}
    )
    assert status == 200
    assert len(page["items"]) == 1


async def test_two_admins_demoting_each_other_at_once_cannot_both_win(
    http: aiohttp.ClientSession,
) -> None:
    """Found by attacking it: each was checked against a standing read before the other's
    change committed, and both became members. The second now waits for the first and
    finds the right it used gone (SPEC 4.4: permission changes take effect at once)."""
    for _ in range(4):
        tenant = await new_tenant(http)
        first, second = await person(http, tenant, "admin"), await person(http, tenant, "admin")
        results = await asyncio.gather(
            call(http, "PUT", f"/v1/users/{second.id}/role", first, {"role": "member"}),
            call(http, "PUT", f"/v1/users/{first.id}/role", second, {"role": "member"}),
        )
        assert sorted(status for status, _ in results) == [200, 403], results
        status, page = await call(http, "GET", "/v1/users", tenant.owner, params={"role": "admin"})
        assert status == 200
        assert len(page["items"]) == 1
