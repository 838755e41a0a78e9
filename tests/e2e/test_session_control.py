"""Session control: list, end one, end all, an admin ending another user's sessions."""

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from edge.requester import Requester
from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, add_member, assert_error, bearer, signup

BEARER = {"X-Auth-Mode": "bearer"}


async def login(
    http: aiohttp.ClientSession, slug: str, email: str, user_agent: str = "test-agent"
) -> dict[str, Any]:
    body = {"tenant": slug, "email": email, "password": PASSWORD}
    async with http.post(
        "/v1/auth/login", json=body, headers={**BEARER, "User-Agent": user_agent}
    ) as r:
        assert r.status == 200, await r.text()
        result: dict[str, Any] = await r.json()
    return result


async def sessions_of(http: aiohttp.ClientSession, access: str) -> list[dict[str, Any]]:
    async with http.get("/v1/auth/sessions", headers=bearer(access)) as r:
        assert r.status == 200, await r.text()
        items: list[dict[str, Any]] = (await r.json())["items"]
    return items


async def test_sessions_list_shows_each_live_session_with_its_details(
    http: aiohttp.ClientSession,
) -> None:
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    second = await login(http, slug, "owner@example.com", user_agent="Phone/1.0")
    listed = await sessions_of(http, owner["access_token"])
    assert len(listed) == 2
    assert all(
        set(s) == {"id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"}
        for s in listed
    )
    assert [s["current"] for s in listed].count(True) == 1
    phone = next(s for s in listed if s["user_agent"] == "Phone/1.0")
    assert not phone["current"]
    assert phone["ip"] == "127.0.0.1"
    # A refresh updates last_used_at and the user agent it came from.
    async with http.post(
        "/v1/auth/refresh",
        json={"refresh_token": second["refresh_token"]},
        headers={**BEARER, "User-Agent": "Phone/2.0"},
    ) as r:
        assert r.status == 200
        rotated = await r.json()
    mine = await sessions_of(http, rotated["access_token"])
    now_phone = next(s for s in mine if s["id"] == phone["id"])
    assert now_phone["current"]
    assert now_phone["user_agent"] == "Phone/2.0"
    assert now_phone["last_used_at"] > phone["last_used_at"]


async def test_ending_one_own_session_cuts_only_that_one(http: aiohttp.ClientSession) -> None:
    owner = await signup(http)
    other = await login(http, owner["tenant"]["slug"], "owner@example.com")
    stranger = await signup(http)
    listed = await sessions_of(http, owner["access_token"])
    other_id = next(s["id"] for s in listed if not s["current"])
    stranger_id = (await sessions_of(http, stranger["access_token"]))[0]["id"]
    async with http.delete(
        f"/v1/auth/sessions/{stranger_id}", headers=bearer(owner["access_token"])
    ) as r:
        await assert_error(r, 404, "not_found")
    async with http.delete(
        f"/v1/auth/sessions/{other_id}", headers=bearer(owner["access_token"])
    ) as r:
        assert r.status == 204
    async with http.get("/v1/auth/me", headers=bearer(other["access_token"])) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.post(
        "/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}, headers=BEARER
    ) as r:
        await assert_error(r, 401)
    async with http.get("/v1/auth/me", headers=bearer(owner["access_token"])) as r:
        assert r.status == 200
    async with http.get("/v1/auth/me", headers=bearer(stranger["access_token"])) as r:
        assert r.status == 200
    async with http.delete(
        "/v1/auth/sessions/not-a-uuid", headers=bearer(owner["access_token"])
    ) as r:
        # As unknown as another user's session: 404, like every family's malformed ids.
        await assert_error(r, 404, "not_found")


async def test_logout_all_ends_every_session_of_the_user(http: aiohttp.ClientSession) -> None:
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    others = [await login(http, slug, "owner@example.com") for _ in range(2)]
    async with http.post("/v1/auth/logout-all", headers=bearer(owner["access_token"])) as r:
        assert r.status == 204
    for pair in [owner, *others]:
        async with http.get("/v1/auth/me", headers=bearer(pair["access_token"])) as r:
            await assert_error(r, 401, "unauthenticated")
        async with http.post(
            "/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers=BEARER
        ) as r:
            await assert_error(r, 401)
    fresh = await login(http, slug, "owner@example.com")
    assert len(await sessions_of(http, fresh["access_token"])) == 1


async def test_an_admin_lists_and_ends_another_users_sessions(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    owner = await signup(http)
    slug, tenant_id = owner["tenant"]["slug"], owner["tenant"]["id"]
    member_id = await add_member(settings, tenant_id, "member@example.com")
    member = await login(http, slug, "member@example.com", user_agent="Member-UA")
    admin = bearer(owner["access_token"])
    async with http.get(f"/v1/users/{member_id}/sessions", headers=admin) as r:
        assert r.status == 200, await r.text()
        items = (await r.json())["items"]
    assert [s["user_agent"] for s in items] == ["Member-UA"]
    assert items[0]["current"] is False
    # A member lacks sessions:read / sessions:revoke.
    async with http.get(
        f"/v1/users/{owner['user']['id']}/sessions", headers=bearer(member["access_token"])
    ) as r:
        await assert_error(r, 403, "forbidden")
    async with http.delete(
        f"/v1/users/{owner['user']['id']}/sessions", headers=bearer(member["access_token"])
    ) as r:
        await assert_error(r, 403, "forbidden")
    # Another tenant's user is not found, and keeps its sessions.
    stranger = await signup(http)
    async with http.delete(f"/v1/users/{stranger['user']['id']}/sessions", headers=admin) as r:
        await assert_error(r, 404, "not_found")
    for method in ("GET", "DELETE"):  # a malformed id is as unknown as another tenant's
        async with http.request(method, "/v1/users/not-a-uuid/sessions", headers=admin) as r:
            await assert_error(r, 404, "not_found")
    async with http.get("/v1/auth/me", headers=bearer(stranger["access_token"])) as r:
        assert r.status == 200
    async with http.delete(f"/v1/users/{member_id}/sessions", headers=admin) as r:
        assert r.status == 204
    async with http.get("/v1/auth/me", headers=bearer(member["access_token"])) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.post(
        "/v1/auth/refresh", json={"refresh_token": member["refresh_token"]}, headers=BEARER
    ) as r:
        await assert_error(r, 401)
    async with http.get(f"/v1/users/{member_id}/sessions", headers=admin) as r:
        assert (await r.json())["items"] == []
    async with http.get("/v1/auth/me", headers=admin) as r:
        assert r.status == 200


async def test_ending_another_users_sessions_needs_every_permission_they_hold(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """An admin ending the owner's sessions in a loop locked the owner out for good:
    every login ended before the owner could demote the admin (an audit: not one of 5
    requests 50 ms after a login got through). As for changing a role or a status, the
    caller must hold every permission the target holds; their own are always theirs."""
    owner = await signup(http)
    slug, tenant_id = owner["tenant"]["slug"], owner["tenant"]["id"]
    await add_member(settings, tenant_id, "admin@example.com", role="admin")
    member_id = await add_member(settings, tenant_id, "member@example.com")
    admin = await login(http, slug, "admin@example.com")
    member = await login(http, slug, "member@example.com")
    as_admin = bearer(admin["access_token"])
    async with http.delete(f"/v1/users/{owner['user']['id']}/sessions", headers=as_admin) as r:
        error = await assert_error(r, 403, "forbidden")
    assert "permissions you do not hold" in error["message"]
    async with http.get("/v1/auth/me", headers=bearer(owner["access_token"])) as r:
        assert r.status == 200  # the owner's session lives on
    async with http.delete(f"/v1/users/{member_id}/sessions", headers=as_admin) as r:
        assert r.status == 204
    async with http.get("/v1/auth/me", headers=bearer(member["access_token"])) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.delete(f"/v1/users/{admin['user']['id']}/sessions", headers=as_admin) as r:
        assert r.status == 204  # one's own
    async with http.delete(
        f"/v1/users/{admin['user']['id']}/sessions", headers=bearer(owner["access_token"])
    ) as r:
        assert r.status == 204  # the owner holds everything an admin holds


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/auth/logout-all"),
        ("POST", "/v1/auth/password"),
        ("POST", "/v1/auth/verify-email/request"),
        ("DELETE", f"/v1/auth/sessions/{uuid.uuid4()}"),
    ],
)
async def test_cookie_writes_from_another_site_are_refused(
    http: aiohttp.ClientSession, method: str, path: str
) -> None:
    owner = await signup(http)
    cookie = {"Cookie": f"__Host-idp_access={owner['access_token']}"}
    for extra in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}, {}):
        async with http.request(method, path, headers={**cookie, **extra}, json={}) as r:
            await assert_error(r, 403, "csrf_rejected")
    async with http.get("/v1/auth/me", headers=bearer(owner["access_token"])) as r:
        assert r.status == 200  # nothing happened


async def test_bearer_requests_are_exempt_from_the_origin_check(
    http: aiohttp.ClientSession,
) -> None:
    owner = await signup(http)
    headers = {**bearer(owner["access_token"]), "Origin": "https://evil.example"}
    async with http.post("/v1/auth/logout-all", headers=headers) as r:
        assert r.status == 204


@pytest.mark.parametrize("path", ["/v1/auth/logout", "/v1/auth/logout-all"])
async def test_a_logout_retried_with_its_key_gets_its_answer_again(
    http: aiohttp.ClientSession, settings: Settings, path: str
) -> None:
    """SPEC 5: a re-sent message is answered with the same reply, even when applying it
    ended the very session its token belongs to (a logout whose 204 was lost). Only the
    same request under the same key gets it: anything else with that token is 401."""
    owner = await signup(http)
    access, key = owner["access_token"], str(uuid.uuid4())
    for _ in range(2):
        async with http.post(path, headers={**bearer(access), "Idempotency-Key": key}) as r:
            assert r.status == 204, await r.text()
    async with http.post(path, headers=bearer(access)) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.post(path, headers={**bearer(access), "Idempotency-Key": "another"}) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.get("/v1/auth/me", headers={**bearer(access), "Idempotency-Key": key}) as r:
        await assert_error(r, 401, "unauthenticated")
    # Over AMQP, the same message id: the same reply.
    requester = Requester(settings)
    await requester.start()
    try:
        message_id = uuid.uuid4().hex
        other = await login(http, owner["tenant"]["slug"], "owner@example.com")
        headers = {"authorization": f"Bearer {other['access_token']}"}
        key_action = "auth.logout" if path.endswith("logout") else "auth.logout_all"
        replies = [
            await requester.call(key_action, {}, headers=headers, message_id=message_id)
            for _ in range(2)
        ]
    finally:
        await requester.stop()
    assert replies[0] == replies[1] == {"ok": True, "data": None}


@pytest.mark.parametrize("path", ["/v1/auth/logout", "/v1/auth/logout-all"])
async def test_a_logout_key_from_another_session_is_not_its_replay(
    http: aiohttp.ClientSession, path: str
) -> None:
    """A logout's body names nothing; what it ends is its token's session. The same key
    from another session of the user is another request (409), never a stored 204 that
    leaves that session alive."""
    owner = await signup(http)
    second = await login(http, owner["tenant"]["slug"], "owner@example.com")
    key = str(uuid.uuid4())
    async with http.post(
        path, headers={**bearer(owner["access_token"]), "Idempotency-Key": key}
    ) as r:
        assert r.status == 204
    if path.endswith("logout-all"):
        second = await login(http, owner["tenant"]["slug"], "owner@example.com")
    async with http.post(
        path, headers={**bearer(second["access_token"]), "Idempotency-Key": key}
    ) as r:
        await assert_error(r, 409, "conflict")
    async with http.get("/v1/auth/me", headers=bearer(second["access_token"])) as r:
        assert r.status == 200  # alive, and told so: a logout with a fresh key ends it
    async with http.post(path, headers=bearer(second["access_token"])) as r:
        assert r.status == 204


async def test_logouts_sent_at_once_with_one_key_all_get_the_answer(
    http: aiohttp.ClientSession,
) -> None:
    """A retry that overtakes the first attempt (its revocation is in Redis, its
    transaction not yet committed) waits for it and gets its answer, not a 401."""
    owner = await signup(http)
    headers = {**bearer(owner["access_token"]), "Idempotency-Key": str(uuid.uuid4())}

    async def logout() -> int:
        async with http.post("/v1/auth/logout", headers=headers) as r:
            return r.status

    assert await asyncio.gather(*(logout() for _ in range(6))) == [204] * 6


async def test_a_revoked_token_gets_no_stored_reply_of_another_session(
    http: aiohttp.ClientSession,
) -> None:
    """Only a logout replays past its own revocation: a revoked token presenting another
    session's key and request (a files.create, whose reply holds an upload URL) is 401."""
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    other = await login(http, slug, "owner@example.com")
    key, body = str(uuid.uuid4()), {"filename": "a.png", "content_type": "image/png", "size": 10}
    async with http.post(
        "/v1/files", json=body, headers={**bearer(other["access_token"]), "Idempotency-Key": key}
    ) as r:
        assert r.status == 201
    async with http.post("/v1/auth/logout", headers=bearer(owner["access_token"])) as r:
        assert r.status == 204
    async with http.post(
        "/v1/files", json=body, headers={**bearer(owner["access_token"]), "Idempotency-Key": key}
    ) as r:
        await assert_error(r, 401, "unauthenticated")


async def test_without_users_write_another_user_is_403_whether_or_not_it_exists(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """A 404 for an unknown id and a 403 for a known one would tell a member which ids are
    users of the tenant: like every route a permission guards, 403 before any lookup."""
    owner = await signup(http)
    slug, tenant_id = owner["tenant"]["slug"], owner["tenant"]["id"]
    await add_member(settings, tenant_id, "member@example.com")
    as_member = bearer((await login(http, slug, "member@example.com"))["access_token"])
    for user_id in (owner["user"]["id"], str(uuid.uuid4())):
        async with http.patch(f"/v1/users/{user_id}", json={"name": "x"}, headers=as_member) as r:
            await assert_error(r, 403, "forbidden")
    # Nor with a token that still claims users:write after a demotion: the current role
    # is checked before the lookup too.
    body = {"email": "admin@example.com", "name": "Ad", "role": "admin", "password": PASSWORD}
    async with http.post("/v1/users", json=body, headers=bearer(owner["access_token"])) as r:
        admin_id = (await r.json())["id"]
    as_admin = bearer((await login(http, slug, "admin@example.com"))["access_token"])
    async with http.put(
        f"/v1/users/{admin_id}/role", json={"role": "member"}, headers=bearer(owner["access_token"])
    ) as r:
        assert r.status == 200, await r.text()
    for user_id in (owner["user"]["id"], str(uuid.uuid4())):
        async with http.patch(f"/v1/users/{user_id}", json={"name": "x"}, headers=as_admin) as r:
            await assert_error(r, 403, "forbidden")
