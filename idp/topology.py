"""The broker topology of SPEC 5, declared idempotently by the edge and the workers."""

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel

from contracts.actions import (
    EXCHANGE_DLX,
    EXCHANGE_EVENTS,
    EXCHANGE_RPC,
    FAMILIES,
    QUEUE_DEAD,
    family_queue,
)
from contracts.catalog import ACTIONS
from idp.settings import Settings

DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000


def request_queue_arguments(settings: Settings) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-queue-type": settings.queue_type,
        "x-dead-letter-exchange": EXCHANGE_DLX,
    }
    if settings.queue_type == "quorum":
        arguments["x-delivery-limit"] = settings.max_deliveries
    return arguments


async def declare_topology(channel: AbstractChannel, settings: Settings) -> None:
    """Exchanges ``idp.rpc``, ``idp.events``, ``idp.dlx``; queues per family and ``idp.dead``."""
    rpc = await channel.declare_exchange(EXCHANGE_RPC, aio_pika.ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(EXCHANGE_DLX, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(
        QUEUE_DEAD,
        durable=True,
        arguments={"x-queue-type": settings.queue_type, "x-message-ttl": DEAD_LETTER_TTL_MS},
    )
    await dead.bind(dlx)
    for family in FAMILIES:
        queue = await channel.declare_queue(
            family_queue(family), durable=True, arguments=request_queue_arguments(settings)
        )
        for action in ACTIONS.values():
            if action.family == family:
                await queue.bind(rpc, routing_key=action.key)
