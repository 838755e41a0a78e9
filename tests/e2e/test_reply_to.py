"""Where a worker replies is the publisher's choice only within bounds (workers/replies.py,
docs/messages.md "Replies"): a reply_to cannot stop the workers, nor make them write
into a queue of the platform or of another broker account."""

import asyncio
import base64
import re
import time
import uuid
from typing import Any

import aio_pika
import aiohttp
import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from contracts.actions import EXCHANGE_RPC
from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, bearer, signup, unique_slug
from tests.support.platform import Platform


async def _forged_direct_reply_to_name(settings: Settings) -> str:
    """A direct reply-to name of the shape RabbitMQ writes, naming a node that does not
    exist: a real name, with the digits of its node name changed."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        inbox = await channel.declare_queue(exclusive=True)
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)

        async def ignore(message: AbstractIncomingMessage) -> None:
            return None

        await replies.consume(ignore, no_ack=True)
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", reply_to="amq.rabbitmq.reply-to"), routing_key=inbox.name
        )
        seen = await _first(inbox, 2.5)
        assert seen is not None
        assert seen.reply_to
    prefix, pid, key = seen.reply_to.rsplit(".", 2)
    assert prefix == "amq.rabbitmq.reply-to", seen.reply_to
    term = base64.b64decode(pid)
    node = re.search(rb"@([0-9]+)", term)
    assert node is not None, term
    other = bytes(ord("1") if digit != ord("1") else ord("2") for digit in node.group(1))
    forged = term.replace(node.group(1), other)
    return f"{prefix}.{base64.b64encode(forged).decode()}.{key}"


async def _first(queue: AbstractQueue, wait: float) -> AbstractIncomingMessage | None:
    """The first message ``queue`` gets within ``wait`` seconds, if any."""
    until = time.monotonic() + wait
    while time.monotonic() < until:
        if (message := await queue.get(no_ack=True, fail=False)) is not None:
            return message
        await asyncio.sleep(0.05)
    return None


async def _publish(
    channel: AbstractChannel, routing_key: str, body: dict[str, Any], reply_to: str, **props: Any
) -> None:
    rpc = await channel.get_exchange(EXCHANGE_RPC, ensure=False)
    await rpc.publish(
        aio_pika.Message(
            orjson.dumps(body),
            correlation_id=uuid.uuid4().hex,
            message_id=uuid.uuid4().hex,
            reply_to=reply_to,
            **props,
        ),
        routing_key=routing_key,
    )


async def test_a_forged_direct_reply_to_name_stops_no_family(
    settings: Settings, platform: Platform, http: aiohttp.ClientSession
) -> None:
    owner = await signup(http)
    dead = await _forged_direct_reply_to_name(settings)
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for _ in range(3):
            await _publish(channel, "auth.me", {}, dead)
            await _publish(channel, "users.list", {}, dead)
    # RabbitMQ 3.10 closes the connection a reply to such a name goes out on (541);
    # the workers' consumers must not be on it. Every request for the next seconds is
    # served: none waits for consumers to come back (503 or 504).
    statuses: list[int] = []
    until = time.monotonic() + 6
    while time.monotonic() < until:
        for path in ("/v1/auth/me", "/v1/users"):
            async with http.get(path, headers=bearer(owner["access_token"])) as response:
                statuses.append(response.status)
        await asyncio.sleep(0.1)
    assert len(statuses) > 20
    assert set(statuses) == {200}, statuses
    # Other publishers are answered too, on the replies' connection opened again.
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        inbox = await channel.declare_queue(exclusive=True)
        for _ in range(3):
            await _publish(channel, "auth.me", {}, inbox.name)
        received = await _received(channel, inbox.name, 2.0)
    assert [orjson.loads(body)["error"]["status"] for body in received] == [401] * 3


async def _received(channel: AbstractChannel, queue_name: str, wait: float) -> list[bytes]:
    queue = await channel.get_queue(queue_name, ensure=False)
    bodies: list[bytes] = []
    until = time.monotonic() + wait
    while time.monotonic() < until:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
        else:
            bodies.append(message.body)
    return bodies


@pytest.mark.parametrize(
    "queue_name",
    ["idp.test-planted-{}", "ext.another-account.replies-{}", "amq.test-planted-{}"],
    ids=["a platform queue", "another account's queue", "a broker-reserved name"],
)
async def test_a_reply_to_outside_the_publishers_reach_gets_nothing_and_applies_nothing(
    settings: Settings, platform: Platform, http: aiohttp.ClientSession, queue_name: str
) -> None:
    name = queue_name.format(uuid.uuid4().hex[:8])
    slug = unique_slug()
    body = {
        "slug": slug,
        "name": "Planted",
        "owner": {"email": "owner@example.com", "password": PASSWORD, "name": "Owner"},
    }
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        # The broker refuses ``amq.`` names to clients; the queue then stands for one
        # the broker made (its own names are all ``amq.``).
        target = name if not name.startswith("amq.") else ""
        queue = await channel.declare_queue(target, auto_delete=True)
        reply_to = name if target == "" else queue.name
        await _publish(channel, "auth.signup", body, reply_to)
        received = await _received(channel, queue.name, 1.5)
    assert received == []
    # Nothing was applied: the slug is still free.
    async with http.post("/v1/tenants", json=body, headers={"X-Auth-Mode": "bearer"}) as response:
        assert response.status == 201, await response.text()


async def test_an_account_gets_replies_in_its_own_ext_queue(
    settings: Settings, platform: Platform
) -> None:
    user = settings.amqp_url.split("//", 1)[1].split(":", 1)[0]  # the account, e.g. guest
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"ext.{user}.replies-{uuid.uuid4().hex[:8]}", auto_delete=True
        )
        await _publish(channel, "auth.me", {}, queue.name, user_id=user)
        received = await _received(channel, queue.name, 1.5)
        # Without user_id, RabbitMQ vouches for no account: refused.
        await _publish(channel, "auth.me", {}, queue.name)
        unvouched = await _received(channel, queue.name, 1.0)
    assert [orjson.loads(body)["error"]["status"] for body in received] == [401]
    assert unvouched == []


async def test_an_amqp_body_over_the_limit_is_refused_unread(
    settings: Settings, platform: Platform
) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        rpc = await channel.get_exchange(EXCHANGE_RPC, ensure=False)
        # Well-formed JSON, each element of which the validator would otherwise walk.
        body = b"[" + b"0," * (settings.max_body_bytes // 2) + b"0]"
        await rpc.publish(
            aio_pika.Message(body, correlation_id="big", reply_to=replies.name),
            routing_key="auth.login",
        )
        message = await _first(replies, 5.0)
    assert message is not None
    error = orjson.loads(message.body)["error"]
    assert (error["status"], error["code"]) == (413, "payload_too_large")
