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
    QUEUE_DEAD_INTAKE,
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
    """Exchanges ``idp.rpc``, ``idp.events``, ``idp.dlx``; queues per family, ``idp.dead``,
    and ``idp.dead.intake`` between the two (workers/dead_letters.py)."""
    rpc = await channel.declare_exchange(EXCHANGE_RPC, aio_pika.ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(EXCHANGE_DLX, aio_pika.ExchangeType.FANOUT, durable=True)
    parked: dict[str, Any] = {
        "x-queue-type": settings.queue_type,
        "x-message-ttl": DEAD_LETTER_TTL_MS,
    }
    intake = await channel.declare_queue(QUEUE_DEAD_INTAKE, durable=True, arguments=parked)
    await intake.bind(dlx)
    dead = await channel.declare_queue(QUEUE_DEAD, durable=True, arguments=parked)
    # Bound straight to idp.dlx before the intake existed: it would get every dead letter,
    # secrets and all, a second time. (Unbinding what is not bound is a no-op.)
    await dead.unbind(dlx)
    for family in FAMILIES:
        queue = await channel.declare_queue(
            family_queue(family), durable=True, arguments=request_queue_arguments(settings)
        )
        for action in ACTIONS.values():
            if action.family == family:
                await queue.bind(rpc, routing_key=action.key)
