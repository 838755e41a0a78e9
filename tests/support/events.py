"""Listen on ``idp.events`` as another system would: wait for one event, or take every
event a tenant's changes published.

A published event leaves the outbox (the relay deletes what the broker confirmed), so a
test that counts a change's events counts them here, where other systems get them, by
distinct event id: delivery is at least once, and a redelivered event keeps its id.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aio_pika
import orjson

from contracts.actions import EXCHANGE_EVENTS
from idp.settings import Settings
from tests.support.database import as_owner
from workers.outbox_relay import OutboxRelay
from workers.uow import Database

# How long the outbox may take to empty: a relay polls every OUTBOX_POLL_SECONDS.
SETTLE_SECONDS = 60.0


class EventTap:
    def __init__(self, queues: Sequence[aio_pika.abc.AbstractQueue]) -> None:
        self._queues = queues
        self._seen: list[dict[str, Any]] = []

    async def wait_for(
        self,
        event_type: str,
        tenant: str | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,
        **fields: Any,
    ) -> dict[str, Any]:
        """The first event of ``event_type`` (in ``tenant``, if given) whose ``data`` holds
        ``fields`` and satisfies ``match``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self._seen:
                data = event["data"]
                if (
                    event["type"] == event_type
                    and (tenant is None or event["tenant_id"] == tenant)
                    and all(data.get(k) == v for k, v in fields.items())
                    and (match is None or match(data))
                ):
                    return event
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {event_type} event {fields} within {timeout}s")
            if not await self._drain():
                await asyncio.sleep(0.05)

    async def settled(
        self, settings: Settings, tenant_id: str, relay_to: str | None = None
    ) -> list[dict[str, Any]]:
        """Every distinct event of the tenant received so far, once its outbox is empty:
        each of its events then was confirmed by the broker, so it is in the queues.

        ``relay_to`` relays what no relay took yet into that broker URL, for a test whose
        platform (and its relay) may be gone.
        """
        deadline = time.monotonic() + SETTLE_SECONDS
        async with AsyncExitStack() as stack:
            relay = await _leftover_relay(stack, settings, relay_to) if relay_to else None
            while await outbox_rows(settings, tenant_id):
                assert time.monotonic() < deadline, "the outbox was never relayed"
                if relay is None or not await relay():
                    await asyncio.sleep(0.05)  # rows another relay holds, or will take
        while await self._drain():
            pass
        distinct = {e["id"]: e for e in self._seen if e["tenant_id"] == tenant_id}
        return list(distinct.values())

    async def _drain(self) -> bool:
        """Take what the queues hold now; whether there was anything."""
        got = False
        for queue in self._queues:
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                got = True
                self._seen.append(orjson.loads(message.body))
        return got


async def _leftover_relay(
    stack: AsyncExitStack, settings: Settings, amqp_url: str
) -> Callable[[], Awaitable[int]]:
    """One batch of the outbox relayed into ``amqp_url`` per call."""
    db = Database.connect(settings)
    stack.push_async_callback(db.close)
    connection = await stack.enter_async_context(await aio_pika.connect(amqp_url))
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
    )
    relay = OutboxRelay(db, amqp_url, poll_seconds=0.05)
    return lambda: relay.relay_once(exchange)


async def outbox_rows(settings: Settings, tenant_id: uuid.UUID | str) -> int:
    """The tenant's outbox rows: a published event leaves it (its data may hold a
    single-use token in clear text, for a mailer), so every row is unpublished."""
    async with as_owner(settings) as connection:
        rows: int = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1", uuid.UUID(str(tenant_id))
        )
    return rows


@asynccontextmanager
async def event_tap(amqp_urls: str | Sequence[str], *event_types: str) -> AsyncIterator[EventTap]:
    """An exclusive queue bound to ``idp.events`` for ``event_types`` (``#``: every event)
    in each broker URL given (a vhost each)."""
    urls = [amqp_urls] if isinstance(amqp_urls, str) else list(amqp_urls)
    async with AsyncExitStack() as stack:
        queues = []
        for url in urls:
            connection = await stack.enter_async_context(await aio_pika.connect(url))
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for event_type in event_types:
                await queue.bind(exchange, routing_key=event_type)
            queues.append(queue)
        yield EventTap(queues)
