"""Listen on ``idp.events`` as another system would, and wait for one event."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import orjson

from contracts.actions import EXCHANGE_EVENTS


class EventTap:
    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self._queue = queue
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
        deadline = asyncio.get_running_loop().time() + timeout
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
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {event_type} event {fields} within {timeout}s")
            message = await self._queue.get(fail=False, timeout=remaining)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            self._seen.append(orjson.loads(message.body))


@asynccontextmanager
async def event_tap(amqp_url: str, *event_types: str) -> AsyncIterator[EventTap]:
    """An exclusive queue bound to ``idp.events`` for ``event_types``."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for event_type in event_types:
            await queue.bind(exchange, routing_key=event_type)
        yield EventTap(queue)
