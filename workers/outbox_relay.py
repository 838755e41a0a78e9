"""Relay outbox rows to ``idp.events`` with publisher confirms (SPEC 5).

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` (so several relays never publish the same
row in normal operation) and deleted in the same transaction only after the broker
confirmed every message of the batch. A relay that dies mid-batch rolls back and the rows
are published again: at least once, never lost; consumers dedupe by ``id``.

Each body goes out as PostgreSQL's JSON text of it, decoded and encoded by nothing in
between: no row can hold a value that stops the relay (a number past Python's int limit
used to fail every claim, and hold every tenant's events behind it).
"""

import asyncio
import contextlib
import logging

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from sqlalchemy import text

from contracts.actions import EXCHANGE_EVENTS
from workers.uow import Database

log = logging.getLogger("idp.outbox")
_CLAIM = text("SELECT id, event_type, body::text AS body FROM idp_outbox_claim(:limit)")
_MARK = text("SELECT idp_outbox_mark_published(CAST(:ids AS uuid[]))")


class OutboxRelay:
    def __init__(self, db: Database, amqp_url: str, poll_seconds: float, batch: int = 200) -> None:
        self._db = db
        self._amqp_url = amqp_url
        self._poll = poll_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractRobustConnection | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            await self._connection.close()

    async def relay_once(self, exchange: AbstractExchange) -> int:
        """Publish one batch; returns how many rows it published."""
        async with self._db.transaction() as uow:
            rows = (await uow.connection.execute(_CLAIM, {"limit": self._batch})).all()
            if not rows:
                return 0
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            row.body.encode(),
                            message_id=str(row.id),
                            type=row.event_type,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=row.event_type,
                    )
                    for row in rows
                )
            )
            await uow.connection.execute(_MARK, {"ids": [str(row.id) for row in rows]})
        return len(rows)

    async def _loop(self) -> None:
        assert self._connection is not None
        channel = await self._connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
        )
        while True:
            try:
                published = await self.relay_once(exchange)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the batch rolled back; retry later
                log.warning("outbox relay failed; will retry", extra={"error": repr(exc)[:300]})
                published = 0
            if published < self._batch:
                await asyncio.sleep(self._poll)
