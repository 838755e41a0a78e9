"""The outbox relay: events of a change reach idp.events, at least once, never lost."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import orjson
import pytest

from contracts.actions import EXCHANGE_EVENTS
from idp.settings import Settings
from tests.integration.conftest import new_tenant
from tests.support.database import as_owner
from tests.support.events import outbox_rows
from workers.outbox_relay import OutboxRelay
from workers.runtime import Runtime


@pytest.fixture
async def events(settings: Settings) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """An exclusive queue bound to every event on the tests' broker."""
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    yield queue
    await connection.close()


async def _drain(queue: aio_pika.abc.AbstractQueue, tenant_id: uuid.UUID, want: int) -> list[Any]:
    """Event bodies of one tenant (others' events are skipped), waiting up to 10 s for
    ``want`` of them, then a little longer for duplicates, if any."""
    bodies: list[Any] = []
    deadline = time.monotonic() + 10
    quiet_until: float | None = None
    while time.monotonic() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            if len(bodies) >= want:
                quiet_until = quiet_until or time.monotonic() + 0.3
                if time.monotonic() >= quiet_until:
                    return bodies
            await asyncio.sleep(0.05)
            continue
        body = orjson.loads(message.body)
        assert message.message_id == body["id"]
        assert message.routing_key == body["type"]
        if body["tenant_id"] == str(tenant_id):
            bodies.append(body)
    return bodies


async def _publish_pending(runtime: Runtime, settings: Settings, relays: int = 1) -> None:
    relay = OutboxRelay(runtime.db, settings.amqp_url, poll_seconds=0.05, batch=50)
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE_EVENTS)
        while sum(await asyncio.gather(*(relay.relay_once(exchange) for _ in range(relays)))):
            pass


async def test_the_events_of_a_change_are_published_with_their_shape(
    runtime: Runtime, settings: Settings, events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await new_tenant(runtime)
    await _publish_pending(runtime, settings)
    bodies = await _drain(events, owner.tenant.id, want=3)
    assert Counter(b["type"] for b in bodies) == Counter(
        {"tenant.created": 1, "user.created": 1, "session.created": 1}
    )
    for body in bodies:
        assert set(body) == {"id", "type", "occurred_at", "tenant_id", "data"}
        assert uuid.UUID(body["id"])
    user_created = next(b for b in bodies if b["type"] == "user.created")
    assert user_created["data"]["user"]["id"] == str(owner.user.id)
    assert await outbox_rows(settings, owner.tenant.id) == 0


async def test_concurrent_relays_publish_each_event_once(
    runtime: Runtime, settings: Settings, events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await new_tenant(runtime)
    await _publish_pending(runtime, settings, relays=4)
    bodies = await _drain(events, owner.tenant.id, want=3)
    assert len(bodies) == 3
    assert len({b["id"] for b in bodies}) == 3


async def test_a_relay_dying_mid_batch_loses_nothing(
    runtime: Runtime, settings: Settings, events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await new_tenant(runtime)
    relay = OutboxRelay(runtime.db, settings.amqp_url, poll_seconds=0.05, batch=50)
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EXCHANGE_EVENTS)
    published = 0
    original = exchange.publish

    async def flaky_publish(*args: Any, **kwargs: Any) -> Any:
        nonlocal published
        published += 1
        if published > 1:
            raise ConnectionError("broker connection lost mid-batch")
        return await original(*args, **kwargs)

    exchange.publish = flaky_publish  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await relay.relay_once(exchange)
    await connection.close()
    assert await outbox_rows(settings, owner.tenant.id) > 0  # the batch rolled back
    await _publish_pending(runtime, settings)
    bodies = await _drain(events, owner.tenant.id, want=3)
    assert {b["type"] for b in bodies} == {"tenant.created", "user.created", "session.created"}
    assert await outbox_rows(settings, owner.tenant.id) == 0


async def test_a_body_no_python_decoder_reads_goes_out_as_written_and_blocks_nothing(
    runtime: Runtime, settings: Settings, events: aio_pika.abc.AbstractQueue
) -> None:
    """The relay publishes each body as PostgreSQL's JSON text and decodes none. A number
    of 5,000 digits (past Python's int limit; the contracts refuse such numbers now, but
    an older row may hold one) used to fail the claim itself, every batch, and hold every
    tenant's events behind it. It goes out exactly as written, and the rest with it."""
    owner = await new_tenant(runtime)
    odd_id, digits = uuid.uuid4(), "9" * 5000
    async with as_owner(settings) as connection:
        await connection.execute(
            "INSERT INTO outbox (id, tenant_id, event_type, body, created_at)"
            " VALUES ($1, $2, 'tenant.updated', $3::jsonb, now() - interval '1 hour')",
            odd_id,
            owner.tenant.id,
            f'{{"id": "{odd_id}", "type": "tenant.updated", "tenant_id": "{owner.tenant.id}",'
            f' "occurred_at": "2026-01-01T00:00:00Z", "data": {{"n": {digits}}}}}',
        )
    await _publish_pending(runtime, settings)
    odd: list[bytes] = []
    types: list[str] = []
    deadline = time.monotonic() + 10
    while len(types) < 3 or not odd:
        assert time.monotonic() < deadline, (types, len(odd))
        message = await events.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.05)
        elif message.message_id == str(odd_id):
            odd.append(message.body)
        elif (body := orjson.loads(message.body))["tenant_id"] == str(owner.tenant.id):
            types.append(body["type"])
    assert sorted(types) == ["session.created", "tenant.created", "user.created"]
    assert f'"n": {digits}'.encode() in odd[0]
    assert await outbox_rows(settings, owner.tenant.id) == 0
