"""The edge's requester against the real broker: budget, unroutable, late replies, loss."""

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator

import aio_pika
import orjson
import pytest

from contracts.actions import (
    EXCHANGE_RPC,
    EXCHANGE_UNROUTED,
    family_queue,
)
from edge.requester import Requester, RpcTimeout, RpcUnavailable
from idp.settings import Settings
from idp.topology import declare_topology
from tests.support.env import ensure_vhost, sibling_vhost, vhost_of


@pytest.fixture(scope="module")
def rpc_settings(settings: Settings) -> Settings:
    url = sibling_vhost(settings.amqp_url, "rpc")
    ensure_vhost(url)
    return settings.model_copy(update={"amqp_url": url, "request_timeout_seconds": 1.0})


@pytest.fixture
async def requester(rpc_settings: Settings) -> AsyncIterator[Requester]:
    requester = Requester(rpc_settings)
    await requester.start()
    assert requester.connected
    yield requester
    await requester.stop()


async def _slow_echo(
    settings: Settings, delays: dict[str, float]
) -> aio_pika.abc.AbstractConnection:
    """A responder on idp.users that answers each request after the delay its body names."""
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    queue = await channel.get_queue(family_queue("users"))
    await queue.purge()

    async def answer(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        body = orjson.loads(message.body)
        await asyncio.sleep(delays.get(body["tag"], 0))
        await channel.default_exchange.publish(
            aio_pika.Message(
                orjson.dumps({"ok": True, "data": body}), correlation_id=message.correlation_id
            ),
            routing_key=message.reply_to or "",
        )
        await message.ack()

    async def consume(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        asyncio.get_running_loop().create_task(answer(message))

    await queue.consume(consume)
    return connection


async def test_unroutable_key_is_unavailable_at_once(requester: Requester) -> None:
    started = time.monotonic()
    with pytest.raises(RpcUnavailable):
        await requester.call("nobody.listens", {}, headers={})
    assert time.monotonic() - started < 0.5


async def test_idp_rpc_is_declared_as_spec_names_it_and_an_older_one_is_replaced(
    settings: Settings,
) -> None:
    """SPEC 5: ``idp.rpc`` is direct and durable, with no arguments, so a client may
    declare it so too (with an ``alternate-exchange`` argument, as one version of a day
    declared it, RabbitMQ closed such a client's channel). Declaring the topology over
    that version's exchange replaces it and binds the family queues to the new one."""
    url = sibling_vhost(settings.amqp_url, "upgrade")
    ensure_vhost(url)
    local = settings.model_copy(update={"amqp_url": url})
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(EXCHANGE_RPC)
        await channel.declare_exchange(
            EXCHANGE_RPC,
            aio_pika.ExchangeType.DIRECT,
            durable=True,
            arguments={"alternate-exchange": EXCHANGE_UNROUTED},
        )
        await declare_topology(connection, local)
        await declare_topology(connection, local)  # and again, as every later start does
        client = await connection.channel(publisher_confirms=True, on_return_raises=True)
        rpc = await client.declare_exchange(
            EXCHANGE_RPC, aio_pika.ExchangeType.DIRECT, durable=True
        )
        roles = await client.get_queue("idp.roles")
        await roles.purge()
        await rpc.publish(aio_pika.Message(b"roles.list"), routing_key="roles.list", mandatory=True)
        got = await roles.get(no_ack=True, fail=False)
    assert got is not None
    assert got.body == b"roles.list"


async def test_no_consumer_times_out_within_budget_and_the_message_expires(
    requester: Requester, rpc_settings: Settings
) -> None:
    connection = await aio_pika.connect(rpc_settings.amqp_url)
    channel = await connection.channel()
    queue = await channel.get_queue(family_queue("roles"))
    await queue.purge()
    started = time.monotonic()
    with pytest.raises(RpcTimeout):
        await requester.call("roles.ping", {}, headers={}, budget=0.5)
    assert 0.45 < time.monotonic() - started < 1.0
    await asyncio.sleep(0.2)
    declared = await channel.declare_queue(family_queue("roles"), passive=True)
    assert declared.declaration_result.message_count == 0  # expired, not waiting for a worker
    await connection.close()


async def test_a_late_reply_is_dropped_never_handed_to_another_call(
    requester: Requester, rpc_settings: Settings
) -> None:
    responder = await _slow_echo(rpc_settings, {"slow": 0.8, "fast": 0.0})
    try:
        with pytest.raises(RpcTimeout):
            await requester.call("users.ping", {"tag": "slow"}, headers={}, budget=0.3)
        results = []
        for _ in range(5):
            results.append(
                await requester.call("users.ping", {"tag": "fast"}, headers={}, budget=1)
            )
            await asyncio.sleep(0.15)
        assert all(r["data"] == {"tag": "fast"} for r in results)
        assert requester.in_flight == 0
    finally:
        await responder.close()


async def _drop_connections(requester: Requester, amqp_url: str) -> None:
    """Cut the edge's broker connection the way a broker restart would."""
    if shutil.which("rabbitmqctl"):
        await asyncio.to_thread(
            subprocess.run,
            [
                "rabbitmqctl",
                "-q",
                "close_all_connections",
                "--vhost",
                vhost_of(amqp_url),
                "--limit",
                "100",
                "t",
            ],
            check=True,
            capture_output=True,
        )
    else:  # e.g. a broker in a container: close it from our side instead
        link = requester._link
        assert link is not None
        await link.connection.close()


async def test_broker_loss_fails_pending_calls_and_reconnects(
    requester: Requester, rpc_settings: Settings
) -> None:
    pending = asyncio.create_task(requester.call("files.ping", {}, headers={}, budget=5))
    await asyncio.sleep(0.2)
    await _drop_connections(requester, rpc_settings.amqp_url)
    started = time.monotonic()
    with pytest.raises(RpcUnavailable):
        await pending
    assert time.monotonic() - started < 2
    for _ in range(50):
        if requester.connected:
            break
        await asyncio.sleep(0.1)
    assert requester.connected
    # Published on the new link (no consumer on idp.files here, so it times out).
    with pytest.raises(RpcTimeout):
        await requester.call("files.ping", {}, headers={}, budget=0.3)


async def test_a_reply_that_is_not_an_envelope_is_unavailable_and_raw_calls_get_its_bytes(
    requester: Requester, rpc_settings: Settings
) -> None:
    """The edge slices a success's data out of the reply's bytes (edge/gateway.py); the
    bytes are the worker's, untouched, and anything but an envelope object is a 503."""
    connection = await aio_pika.connect(rpc_settings.amqp_url)
    channel = await connection.channel()
    queue = await channel.get_queue(family_queue("users"))
    await queue.purge()

    async def answer(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await channel.default_exchange.publish(
            aio_pika.Message(
                orjson.loads(message.body)["reply"].encode(), correlation_id=message.correlation_id
            ),
            routing_key=message.reply_to or "",
        )
        await message.ack()

    await queue.consume(answer)
    try:
        envelope = '{"ok":true,"data":{"items":[],"next_cursor":null}}'
        raw = await requester.call_raw("users.list", {"reply": envelope}, headers={})
        assert raw == envelope.encode()
        for broken in ("not json", "[1]", ""):
            with pytest.raises(RpcUnavailable, match="malformed reply"):
                await requester.call("users.list", {"reply": broken}, headers={})
    finally:
        await connection.close()
