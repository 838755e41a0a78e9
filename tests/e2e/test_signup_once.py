"""A sign-up delivered twice with one message id creates one tenant (SPEC 5, 7).

An HTTP retry with the same ``Idempotency-Key``, or a redelivery after a worker died
between commit and ack, answers 201 with the owner logged in, instead of "slug taken":
in the session the first delivery opened, with the same pair signed again.
"""

import uuid
from collections import Counter
from typing import Any

import aiohttp

from edge.requester import Requester
from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, assert_error, assert_same_opening, bearer, unique_slug
from tests.support.database import as_owner
from tests.support.events import EventTap

BEARER = {"X-Auth-Mode": "bearer"}


def _body(slug: str, *, name: str = "Acme", password: str = PASSWORD) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "owner": {"email": "owner@example.com", "password": password, "name": "Owner"},
    }


async def _post(
    http: aiohttp.ClientSession, body: dict[str, Any], key: str
) -> tuple[int, dict[str, Any]]:
    headers = {**BEARER, "Idempotency-Key": key}
    async with http.post("/v1/tenants", json=body, headers=headers) as response:
        return response.status, await response.json()


async def _created(settings: Settings, events: EventTap, slug: str) -> tuple[int, int, int]:
    """Tenants with the slug, and the tenant.created and session.created events of it
    that reached other systems."""
    # As the owner role: RLS would hide every row from the application role here.
    async with as_owner(settings) as connection:
        tenant_ids = await connection.fetch("SELECT id FROM tenants WHERE slug = $1", slug)
    assert tenant_ids, f"no tenant {slug}"
    published = Counter(
        event["type"] for event in await events.settled(settings, str(tenant_ids[0]["id"]))
    )
    return len(tenant_ids), published["tenant.created"], published["session.created"]


async def test_a_retried_sign_up_with_the_same_key_creates_one_tenant(
    http: aiohttp.ClientSession, settings: Settings, events: EventTap
) -> None:
    slug, key = unique_slug(), str(uuid.uuid4())
    status, first = await _post(http, _body(slug), key)
    assert status == 201, first
    status, again = await _post(http, _body(slug), key)
    assert status == 201, again
    assert again["tenant"] == first["tenant"]
    assert again["user"] == first["user"]
    # The same session and the same pair, signed again from its seed (no token is stored).
    assert again["access_token"] == first["access_token"]
    assert again["refresh_token"] == first["refresh_token"]
    async with http.get("/v1/auth/me", headers=bearer(again["access_token"])) as r:
        assert r.status == 200
    assert await _created(settings, events, slug) == (1, 1, 1)


async def test_only_the_same_request_with_the_same_key_and_password_is_the_same_sign_up(
    http: aiohttp.ClientSession,
) -> None:
    slug, key = unique_slug(), str(uuid.uuid4())
    status, _ = await _post(http, _body(slug), key)
    assert status == 201
    for body, with_key in (
        (_body(slug), str(uuid.uuid4())),  # another key: another sign-up, and the slug is taken
        (_body(slug, name="Another name"), key),  # the same key for another request
        (_body(slug, password="another long passphrase"), key),  # not the owner's password
    ):
        headers = {**BEARER, "Idempotency-Key": with_key}
        async with http.post("/v1/tenants", json=body, headers=headers) as response:
            await assert_error(response, 409, "conflict")


async def test_a_sign_up_message_delivered_twice_over_amqp_creates_one_tenant(
    settings: Settings, http: aiohttp.ClientSession, events: EventTap
) -> None:
    requester = Requester(settings)
    await requester.start()
    try:
        slug, message_id = unique_slug(), uuid.uuid4().hex
        replies = [
            await requester.call("auth.signup", _body(slug), headers={}, message_id=message_id)
            for _ in range(2)
        ]
    finally:
        await requester.stop()
    assert [reply["ok"] for reply in replies] == [True, True], replies
    assert_same_opening(replies[0]["data"], replies[1]["data"])
    assert await _created(settings, events, slug) == (1, 1, 1)
