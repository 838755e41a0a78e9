"""Other systems on the broker: same contracts, same tokens, and nothing more (SPEC 5)."""

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import aiohttp
import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from contracts.actions import EXCHANGE_RPC, EXCHANGE_UNROUTED
from edge.requester import Requester
from idp.settings import Settings
from idp.topology import UNROUTED_POLICY, set_unrouted_policy
from tests.e2e.admin_support import new_tenant, person
from tests.e2e.conftest import PASSWORD, signup
from tests.support.env import vhost_of
from tests.support.platform import Platform


@pytest.fixture
async def amqp(platform: Platform, settings: Settings) -> AsyncIterator[Requester]:
    requester = Requester(settings)
    await requester.start()
    yield requester
    await requester.stop()


@contextlib.asynccontextmanager
async def _publisher(
    settings: Settings,
) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue, AbstractExchange]]:
    """Another system on the broker (not the edge's Requester): its channel, an exclusive
    reply queue, and ``idp.rpc``."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        yield channel, replies, await channel.get_exchange(EXCHANGE_RPC)


@pytest.mark.parametrize(
    ("name", "as_bytes"),
    [("authorization", False), ("Authorization", False), ("authorization", True)],
    ids=["as SPEC names it", "in HTTP's case", "as a byte string"],
)
async def test_a_valid_bearer_token_works_over_amqp(
    settings: Settings, http: aiohttp.ClientSession, name: str, as_bytes: bool
) -> None:
    owner = await signup(http)
    value = f"Bearer {owner['access_token']}"
    headers = {name: bytearray(value.encode()) if as_bytes else value}
    reply = orjson.loads((await _published(settings, "auth.me", {}, headers)).body)
    assert reply["ok"] is True
    assert reply["data"]["user"]["id"] == owner["user"]["id"]


@pytest.mark.parametrize("authorization", [None, "Bearer forged.token.value", "Basic abc"])
async def test_workers_verify_the_token_themselves(
    amqp: Requester, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    reply = await amqp.call("auth.me", {}, headers=headers)
    assert reply == {
        "ok": False,
        "error": {"code": "unauthenticated", "message": reply["error"]["message"], "status": 401},
    }


async def test_invalid_requests_get_an_error_reply_with_details(amqp: Requester) -> None:
    reply = await amqp.call("auth.login", {"tenant": 5, "email": 3}, headers={})
    assert reply["ok"] is False
    assert reply["error"]["code"] == "invalid_request"
    assert reply["error"]["status"] == 400
    assert {d["field"] for d in reply["error"]["details"]} >= {"tenant", "email", "password"}


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff not json",
        b'{"tenant": ' + b"[" * 1000 + b"]" * 1000 + b', "email": "a@b.io", "password": "p"}',
    ],
    ids=["not json", "nested 1000 deep"],
)
async def test_a_malformed_body_still_gets_a_400_reply(
    settings: Settings, platform: Platform, raw: bytes
) -> None:
    message = await _published(settings, "auth.login", raw, {}, type="auth.login")
    body: dict[str, Any] = orjson.loads(message.body)
    assert body["ok"] is False
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["status"] == 400


async def _published_login(
    settings: Settings, body: dict[str, Any], headers: dict[str, Any], **properties: Any
) -> dict[str, Any]:
    """``auth.login`` published as another system would (no Requester), and its reply."""
    reply: dict[str, Any] = orjson.loads(
        (await _published(settings, "auth.login", body, headers, **properties)).body
    )
    return reply


async def _published(
    settings: Settings,
    routing_key: str,
    body: dict[str, Any] | bytes,
    headers: dict[str, Any],
    *,
    exchange: str = EXCHANGE_RPC,
    **properties: Any,
) -> aio_pika.abc.AbstractIncomingMessage:
    """A request published as another system would (no Requester), to ``exchange`` (""
    for the default one), and its reply."""
    async with _publisher(settings) as (channel, replies, _):
        target = channel.default_exchange if not exchange else await channel.get_exchange(exchange)
        correlation_id = uuid.uuid4().hex
        properties.setdefault("message_id", correlation_id)
        await target.publish(
            aio_pika.Message(
                body if isinstance(body, bytes) else orjson.dumps(body),
                correlation_id=correlation_id,
                reply_to=replies.name,
                headers=headers,
                **properties,
            ),
            routing_key=routing_key,
        )
        reply = await _first(replies)
    assert reply.correlation_id == correlation_id
    return reply


async def _first(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    for _ in range(100):
        message = await queue.get(fail=False, no_ack=True)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("no reply within 5 s")


@pytest.fixture
def unrouted_policy(settings: Settings) -> Iterator[None]:
    """The policy docs/messages.md gives operators: idp.rpc.unrouted as idp.rpc's
    alternate exchange (a policy, so that clients may still declare idp.rpc plainly)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("this test sets a RabbitMQ policy with rabbitmqctl, which is not on PATH")
    vhost = vhost_of(settings.amqp_url)
    assert set_unrouted_policy(settings.amqp_url), "idp dev's way of setting it failed"
    try:
        yield
    finally:
        subprocess.run(
            [ctl, "-q", "clear_policy", "-p", vhost, UNROUTED_POLICY],
            check=False,
            capture_output=True,
        )


@pytest.mark.parametrize(
    ("exchange_name", "routing_key", "status", "code"),
    [
        # A typo, with a ``type`` naming a real action: the routing key is the action.
        (EXCHANGE_RPC, "users.lsit", 404, "not_found"),
        (EXCHANGE_RPC, "x" * 255, 404, "not_found"),
        # What a request for a real action meets if its family queue is gone.
        (EXCHANGE_UNROUTED, "users.list", 503, "unavailable"),
    ],
    ids=["typo", "longest key", "known action without its queue"],
)
async def test_a_request_no_queue_takes_still_gets_a_reply(
    settings: Settings,
    platform: Platform,
    unrouted_policy: None,
    exchange_name: str,
    routing_key: str,
    status: int,
    code: str,
) -> None:
    """SPEC 5: every request gets a reply, including one whose routing key no family queue
    is bound to, where the operator made idp.rpc.unrouted idp.rpc's alternate exchange."""
    request_id = f"stray-{uuid.uuid4().hex}"
    message = await _published(
        settings,
        routing_key,
        b"{}",
        {"x-request-id": request_id},
        exchange=exchange_name,
        type="users.list",
    )
    assert (message.headers or {}).get("x-request-id") == request_id
    error = orjson.loads(message.body)["error"]
    assert orjson.loads(message.body)["ok"] is False
    assert (error["status"], error["code"]) == (status, code)
    assert routing_key[:100] in error["message"]


async def test_the_routing_key_names_the_action_even_when_type_says_otherwise(
    settings: Settings, platform: Platform
) -> None:
    """SPEC 5: ``type`` is the routing key. When a publisher sets them apart, the routing
    key (what brought the message to the queue) wins; ``type`` names the action only for a
    message published to the queue by name."""
    # An address of its own: failures on a shared one would soon be rate limited.
    email = f"routing-{uuid.uuid4().hex[:8]}@example.com"
    login = {"tenant": "no-such-tenant", "email": email, "password": "pw"}
    answers = []
    for exchange, routing_key, kind in (
        (EXCHANGE_RPC, "auth.login", "auth.refresh"),
        ("", "idp.auth", "auth.login"),
    ):
        message = await _published(settings, routing_key, login, {}, exchange=exchange, type=kind)
        answers.append(orjson.loads(message.body)["error"]["code"])
    # Both were logins (an unknown tenant), not a refresh without a token (400).
    assert answers == ["invalid_credentials", "invalid_credentials"]


async def test_a_publisher_cannot_name_the_client_address_it_is_counted_and_recorded_by(
    settings: Settings, http: aiohttp.ClientSession
) -> None:
    """SPEC 5: a publisher can do nothing an anonymous HTTP client cannot, and SPEC 4.5:
    the counted address is never one the client sets by itself. A login published with
    its own ``x-client-ip`` / ``x-user-agent`` (and a made-up signature) opens a session
    recorded with neither; the same headers signed by the edge are believed."""
    owner = await signup(http)
    body = {"tenant": owner["tenant"]["slug"], "email": "owner@example.com", "password": PASSWORD}
    headers = {
        "x-client-ip": "203.0.113.66",
        "x-user-agent": "forged-agent",
        "x-client-sig": "0" * 64,
        "x-deadline": 99_999_999_999_999,
    }
    # user_id: the broker checks it, this publisher's own account.
    reply = await _published_login(settings, body, headers, user_id="guest")
    assert reply["ok"] is True, reply
    forged = reply["data"]["access_token"]
    async with http.get(
        "/v1/auth/sessions", headers={"Authorization": f"Bearer {forged}"}
    ) as response:
        sessions = (await response.json())["items"]
    current = next(s for s in sessions if s["current"])
    assert (current["ip"], current["user_agent"]) == (None, None)
    # Through the edge, the address it saw and the client's user agent are on record.
    edge_session = next(s for s in sessions if not s["current"])
    assert edge_session["ip"] == "127.0.0.1"
    assert edge_session["user_agent"]


def _raw_properties_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let this process publish what a careless client in another language might: a
    short string as raw bytes (not UTF-8) and a timestamp as a raw 64-bit number."""
    from pamqp import common, encode

    plain_short_string, plain_timestamp = encode.METHODS["shortstr"], encode.METHODS["timestamp"]

    def short_string(value: object) -> bytes:
        if isinstance(value, bytes):
            return common.Struct.byte.pack(len(value)) + value
        return plain_short_string(value)

    def timestamp(value: object) -> bytes:
        if isinstance(value, int):
            return common.Struct.timestamp.pack(value)
        return plain_timestamp(value)

    monkeypatch.setitem(encode.METHODS, "shortstr", short_string)
    monkeypatch.setitem(encode.METHODS, "timestamp", timestamp)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"message_id": b"\xff\xfe-binary-id"}, "message_id"),
        ({"timestamp": 2**63 - 1}, "timestamp"),
    ],
    ids=["message id not UTF-8", "timestamp out of range"],
)
async def test_a_property_that_does_not_decode_costs_its_message_not_the_workers_connection(
    settings: Settings,
    platform: Platform,
    http: aiohttp.ClientSession,
    amqp: Requester,
    monkeypatch: pytest.MonkeyPatch,
    bad: dict[str, Any],
    named: str,
) -> None:
    """It closed the worker's whole connection (pamqp raised while reading the frame),
    for every family, again on each redelivery, and forever from idp.dead.intake."""
    from pamqp.commands import Basic

    owner = await signup(http)
    _raw_properties_encoder(monkeypatch)
    async with _publisher(settings) as (channel, replies, _):
        correlation_id = uuid.uuid4().hex
        # aiormq's, which publishes the properties as given
        raw_channel = await channel.get_underlay_channel()
        await raw_channel.basic_publish(
            b"{}",
            exchange=EXCHANGE_RPC,
            routing_key="roles.list",
            properties=Basic.Properties(
                correlation_id=correlation_id,
                reply_to=replies.name,
                content_type="application/json",
                headers={"authorization": f"Bearer {owner['access_token']}"},
                **bad,
            ),
        )
        message = await _first(replies)
        assert message.correlation_id == correlation_id
        body: dict[str, Any] = orjson.loads(message.body)
    assert body["ok"] is False
    assert body["error"]["status"] == 400
    assert named in body["error"]["message"]
    # Every family still consumes: the next request of each is answered.
    bearer = {"authorization": f"Bearer {owner['access_token']}"}
    for key in ("auth.me", "users.list", "roles.list", "files.list"):
        reply = await amqp.call(key, {}, headers=bearer, budget=5)
        assert reply["ok"] is True, (key, reply)


async def test_over_amqp_the_checks_come_in_the_edges_order(
    amqp: Requester, http: aiohttp.ClientSession
) -> None:
    """The token, then the permission, then the body: over AMQP the body came first, so
    the same mistakes were a 400 there and a 401 or 403 over HTTP."""
    tenant = await new_tenant(http)
    member = await person(http, tenant, "member")
    cases: list[tuple[str, dict[str, Any], dict[str, str], str, int]] = [
        ("users.create", {}, {}, "/v1/users", 401),
        ("roles.create", {"name": 5}, member.headers, "/v1/roles", 403),
        ("auth.refresh", {}, {"X-Auth-Mode": "bearer"}, "/v1/auth/refresh", 401),
    ]
    for key, body, http_headers, path, status in cases:
        async with http.post(path, json=body, headers=http_headers) as response:
            assert response.status == status, (path, await response.text())
            http_code = (await response.json())["error"]["code"]
        headers = (
            {"authorization": http_headers["Authorization"]}
            if "Authorization" in (http_headers)
            else {}
        )
        reply = await amqp.call(key, body, headers=headers)
        assert reply["ok"] is False
        assert (reply["error"]["status"], reply["error"]["code"]) == (status, http_code), key


async def test_a_counted_login_failure_is_audited_whatever_the_deadline(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """A publisher picks its own ``x-deadline``. A failure counted against the account
    (Redis) must also reach the audit trail and the events: the commit deadline gives way
    once the failure is counted, so the answer is the 401, not a 504 that left a counted
    failure nobody can see."""
    owner = await signup(http)
    slug = owner["tenant"]["slug"]
    body = {"tenant": slug, "email": "owner@example.com", "password": "not the password!"}
    deadline_ms = int(time.time() * 1000) + 200  # inside the worker's 250 ms margin
    reply = await _published_login(settings, body, {"x-deadline": deadline_ms})
    assert reply["ok"] is False
    assert reply["error"]["code"] == "invalid_credentials", reply
    params = {"action": "auth.login_failed"}
    headers = {"Authorization": f"Bearer {owner['access_token']}"}
    async with http.get("/v1/audit", params=params, headers=headers) as response:
        assert len((await response.json())["items"]) == 1


async def test_a_request_id_that_is_not_sane_is_replaced_not_stored(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """The edge only echoes a sane ``X-Request-ID``; a publisher's ``x-request-id`` gets the
    same rule. A NUL in it reached the audit trail's insert and failed every delivery
    (500, dead-lettered), counting one wrong password five times toward the lockout."""
    owner = await signup(http)
    bearer = f"Bearer {owner['access_token']}"
    for request_id in ("a\x00b", "a\nb\u202ec", "x" * 129, "has space"):
        reply = await _published(
            settings,
            "roles.create",
            {"name": f"r-{uuid.uuid4().hex[:8]}", "permissions": []},
            {"authorization": bearer, "x-request-id": request_id},
        )
        assert orjson.loads(reply.body)["ok"] is True, reply.body
        echoed = (reply.headers or {})["x-request-id"]
        assert isinstance(echoed, str)
        assert echoed != request_id
        assert uuid.UUID(echoed)
    slug = owner["tenant"]["slug"]
    wrong = {"tenant": slug, "email": "owner@example.com", "password": "not the password!"}
    for _ in range(4):  # four failures: one short of the lockout, if each counts once
        reply_body = await _published_login(settings, wrong, {"x-request-id": "a\x00b"})
        assert reply_body["error"]["code"] == "invalid_credentials", reply_body
    right = {**wrong, "password": PASSWORD}
    assert (await _published_login(settings, right, {}))["ok"] is True


async def test_a_message_id_with_nul_is_refused_and_nothing_is_applied(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """AMQP allows U+0000 in ``message_id``; PostgreSQL's text does not, and a write's
    message id is stored. A clear 400, never a 500 after five deliveries."""
    owner = await signup(http)
    bearer = f"Bearer {owner['access_token']}"
    name = f"nul-{uuid.uuid4().hex[:8]}"
    for key, body in (
        ("roles.create", {"name": name, "permissions": []}),
        ("auth.password_reset_request", {"tenant": owner["tenant"]["slug"], "email": "x@y.io"}),
    ):
        reply = await _published(
            settings, key, body, {"authorization": bearer}, message_id="ab\x00cd"
        )
        error = orjson.loads(reply.body)["error"]
        assert (error["status"], error["code"]) == (400, "invalid_request"), key
        assert "message_id" in error["message"]
    async with http.get("/v1/roles", headers={"Authorization": bearer}) as response:
        roles = (await response.json())["items"]
    assert name not in {role["name"] for role in roles}
