"""A login delivered twice with one message id opens one session (SPEC 5, 7).

An HTTP retry with the same ``Idempotency-Key``, or a redelivery after a worker died
between commit and ack, gets the pair the first delivery issued, signed again from the
session's seed: no second session, no second ``session.created`` or
``auth.login_succeeded``. The password is checked every time, and once the first pair has
been used (rotated) or its session ended, the same message id is a 409.
"""

import asyncio
import uuid
from collections import Counter
from typing import Any

import aiohttp

from edge.requester import Requester
from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, assert_error, assert_same_opening, bearer, signup
from tests.support.database import as_owner
from tests.support.events import EventTap

BEARER = {"X-Auth-Mode": "bearer"}


async def _login(
    http: aiohttp.ClientSession, tenant: str, key: str, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    body = {"tenant": tenant, "email": "owner@example.com", "password": password}
    return await http.post("/v1/auth/login", json=body, headers={**BEARER, "Idempotency-Key": key})


async def _ok(response: aiohttp.ClientResponse) -> dict[str, Any]:
    async with response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    return body


async def _opened(
    settings: Settings, events: EventTap, owner: dict[str, Any]
) -> tuple[int, int, int]:
    """The owner's sessions, and the session.created and auth.login_succeeded events of
    the owner that reached other systems."""
    user_id = owner["user"]["id"]
    # As the owner role: RLS would hide every row from the application role here.
    async with as_owner(settings) as connection:
        opened = await connection.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1", uuid.UUID(user_id)
        )
    published = Counter(
        event["type"]
        for event in await events.settled(settings, owner["tenant"]["id"])
        if event["data"].get("user_id") == user_id
    )
    return opened, published["session.created"], published["auth.login_succeeded"]


async def test_a_retried_login_with_the_same_key_gets_the_same_session(
    http: aiohttp.ClientSession, settings: Settings, events: EventTap
) -> None:
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    key = str(uuid.uuid4())
    first = await _ok(await _login(http, slug, key))
    again = await _ok(await _login(http, slug, key))
    assert again == first
    assert await _opened(settings, events, owner) == (2, 2, 1)  # sign-up's session and this one
    async with http.get("/v1/auth/sessions", headers=bearer(again["access_token"])) as r:
        assert r.status == 200
        listed = (await r.json())["items"]
    assert len(listed) == 2
    # Another key is another login, and another session.
    other = await _ok(await _login(http, slug, str(uuid.uuid4())))
    assert other["refresh_token"] != first["refresh_token"]
    assert await _opened(settings, events, owner) == (3, 3, 2)


async def test_the_same_key_still_needs_the_password(http: aiohttp.ClientSession) -> None:
    owner = await signup(http)
    slug, key = owner["tenant"]["slug"], str(uuid.uuid4())
    await _ok(await _login(http, slug, key))
    async with await _login(http, slug, key, password="not the password at all") as response:
        await assert_error(response, 401, "invalid_credentials")


async def test_once_the_pair_was_used_or_its_session_ended_the_key_is_a_conflict(
    http: aiohttp.ClientSession,
) -> None:
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    rotated_key, ended_key = str(uuid.uuid4()), str(uuid.uuid4())
    first = await _ok(await _login(http, slug, rotated_key))
    async with http.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}, headers=BEARER
    ) as response:
        assert response.status == 200
    # Handing back the spent refresh token would only trip reuse detection.
    async with await _login(http, slug, rotated_key) as response:
        await assert_error(response, 409, "conflict")
    ended = await _ok(await _login(http, slug, ended_key))
    async with http.post("/v1/auth/logout", headers=bearer(ended["access_token"])) as response:
        assert response.status == 204
    async with await _login(http, slug, ended_key) as response:
        await assert_error(response, 409, "conflict")


async def test_a_login_message_delivered_twice_at_once_over_amqp_opens_one_session(
    http: aiohttp.ClientSession, settings: Settings, events: EventTap
) -> None:
    owner = await signup(http)
    body = {"tenant": owner["tenant"]["slug"], "email": "owner@example.com", "password": PASSWORD}
    requester = Requester(settings)
    await requester.start()
    try:
        message_id = uuid.uuid4().hex
        replies = await asyncio.gather(
            *(
                requester.call("auth.login", body, headers={}, message_id=message_id)
                for _ in range(3)
            )
        )
    finally:
        await requester.stop()
    assert [reply["ok"] for reply in replies] == [True, True, True], replies
    assert_same_opening(*(reply["data"] for reply in replies))
    assert await _opened(settings, events, owner) == (2, 2, 1)


async def test_one_message_id_used_by_two_users_is_two_logins(
    http: aiohttp.ClientSession,
) -> None:
    first_owner, second_owner = await signup(http), await signup(http)
    key = str(uuid.uuid4())
    first = await _ok(await _login(http, first_owner["tenant"]["slug"], key))
    second = await _ok(await _login(http, second_owner["tenant"]["slug"], key))
    assert first["user"]["id"] != second["user"]["id"]
    assert first["refresh_token"] != second["refresh_token"]


async def test_a_login_under_the_sign_ups_key_is_another_message(
    http: aiohttp.ClientSession, settings: Settings, events: EventTap
) -> None:
    """The key is per action: a login that reuses the sign-up's Idempotency-Key opens a
    session of its own, it does not get the sign-up's."""
    key = str(uuid.uuid4())
    body = {
        "slug": f"t-{uuid.uuid4().hex[:12]}",
        "name": "Acme",
        "owner": {"email": "owner@example.com", "password": PASSWORD, "name": "Owner"},
    }
    async with http.post(
        "/v1/tenants", json=body, headers={**BEARER, "Idempotency-Key": key}
    ) as response:
        assert response.status == 201
        owner = await response.json()
    logged_in = await _ok(await _login(http, owner["tenant"]["slug"], key))
    assert logged_in["refresh_token"] != owner["refresh_token"]
    assert await _opened(settings, events, owner) == (2, 2, 1)
