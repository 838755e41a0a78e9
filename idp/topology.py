"""The broker topology of SPEC 5, declared idempotently by the edge and the workers."""

import logging
import shutil
import subprocess
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aiormq.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from contracts.actions import (
    EXCHANGE_DLX,
    EXCHANGE_EVENTS,
    EXCHANGE_RPC,
    EXCHANGE_UNROUTED,
    FAMILIES,
    QUEUE_DEAD,
    QUEUE_DEAD_INTAKE,
    QUEUE_UNROUTED,
    family_queue,
)
from contracts.catalog import ACTIONS
from idp.settings import Settings

log = logging.getLogger("idp.topology")
DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000


def request_queue_arguments(settings: Settings) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-queue-type": settings.queue_type,
        "x-dead-letter-exchange": EXCHANGE_DLX,
    }
    if settings.queue_type == "quorum":
        arguments["x-delivery-limit"] = settings.max_deliveries
    return arguments


async def declare_topology(connection: AbstractConnection, settings: Settings) -> None:
    """Exchanges ``idp.rpc``, ``idp.rpc.unrouted`` (its alternate exchange where a policy
    makes it one), ``idp.events``, ``idp.dlx``; queues per family, ``idp.unrouted``,
    ``idp.dead``, and ``idp.dead.intake`` between the two (workers/dead_letters.py). On a
    channel of its own, closed when done."""
    for attempt in range(3):
        try:
            async with await connection.channel() as channel:
                await _declare(channel, settings)
            return
        except ChannelNotFoundEntity:
            # Another process replaced idp.rpc while this one bound to it (_rpc_exchange).
            if attempt == 2:
                raise


async def _declare(channel: AbstractChannel, settings: Settings) -> None:
    unrouted = await channel.declare_exchange(
        EXCHANGE_UNROUTED, aio_pika.ExchangeType.FANOUT, durable=True
    )
    rpc = await _rpc_exchange(channel)
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
    arguments = request_queue_arguments(settings)
    stray = await channel.declare_queue(QUEUE_UNROUTED, durable=True, arguments=arguments)
    await stray.bind(unrouted)
    for family in FAMILIES:
        queue = await channel.declare_queue(family_queue(family), durable=True, arguments=arguments)
        for action in ACTIONS.values():
            if action.family == family:
                await queue.bind(rpc, routing_key=action.key)


UNROUTED_POLICY = "idp-rpc-unrouted"
# Its pattern and definition, as rabbitmqctl takes them (compose.yaml's RabbitMQ sets the
# same policy: scripts/compose-rabbitmq.sh).
UNROUTED_POLICY_PATTERN = r"^idp\.rpc$"
UNROUTED_POLICY_DEFINITION = f'{{"alternate-exchange": "{EXCHANGE_UNROUTED}"}}'


def local_rabbitmqctl(amqp_url: str) -> tuple[str, str] | None:
    """``rabbitmqctl`` and the URL's vhost, when this machine's ``rabbitmqctl`` manages
    the URL's broker (a local one); None for a remote broker or without the tool."""
    parts = urlsplit(amqp_url)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    return ctl, unquote(parts.path[1:]) or "/"


def set_unrouted_policy(amqp_url: str) -> bool:
    """Make ``idp.rpc.unrouted`` the alternate exchange of ``idp.rpc`` by policy (so that
    every request gets a reply, SPEC 5), where this machine's ``rabbitmqctl`` manages the
    URL's broker; True when set. A policy, unlike an exchange argument, leaves clients
    free to declare ``idp.rpc`` as SPEC 5 names it. Elsewhere it is the operator's
    command (docs/messages.md)."""
    local = local_rabbitmqctl(amqp_url)
    if local is None:
        return False
    ctl, vhost = local
    done = subprocess.run(
        [
            ctl,
            "-q",
            "set_policy",
            "-p",
            vhost,
            "--apply-to",
            "exchanges",
            UNROUTED_POLICY,
            UNROUTED_POLICY_PATTERN,
            UNROUTED_POLICY_DEFINITION,
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        log.warning("idp.rpc's alternate exchange not set", extra={"error": done.stderr[:200]})
    return done.returncode == 0


async def _rpc_exchange(channel: AbstractChannel) -> AbstractExchange:
    """``idp.rpc`` as SPEC 5 names it, direct and durable with no arguments, so that any
    client may declare it so too. Its alternate exchange, when an operator wants one, is
    set by policy (docs/messages.md), which a client's declaration does not conflict
    with. One declared with arguments (``alternate-exchange``, by a version of a day) is
    replaced: a request published in the moment between is returned to its publisher
    (the edge answers 503), and every process that declares the topology binds the
    family queues again right after."""
    try:
        return await channel.declare_exchange(
            EXCHANGE_RPC, aio_pika.ExchangeType.DIRECT, durable=True
        )
    except ChannelPreconditionFailed:
        log.warning("replacing idp.rpc, declared with arguments SPEC 5 does not give it")
        await channel.reopen()
        await channel.exchange_delete(EXCHANGE_RPC)
        return await channel.declare_exchange(
            EXCHANGE_RPC, aio_pika.ExchangeType.DIRECT, durable=True
        )
