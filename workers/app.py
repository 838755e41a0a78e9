"""``idp worker``: FastStream subscribers, one per family queue, each with its prefetch."""

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping

import aio_pika
from aio_pika import IncomingMessage
from aio_pika.abc import AbstractChannel
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

from contracts.actions import QUEUE_DEAD_INTAKE, QUEUE_UNROUTED, family_queue
from idp import amqp_properties
from idp.preflight import check_all, check_amqp, check_postgres, check_redis
from idp.runner import freeze_startup_heap, run_async
from idp.settings import Settings
from idp.topology import declare_topology
from workers import dead_letters, unrouted
from workers.auth.handlers import router as auth_router
from workers.dispatch import dispatch
from workers.files.handlers import router as files_router
from workers.maintenance import Periodic, prune, sample_gauges
from workers.outbox_relay import OutboxRelay
from workers.revocation_sync import restore_if_lost
from workers.roles.handlers import router as roles_router
from workers.routing import FamilyRouter
from workers.runtime import Runtime
from workers.users.handlers import router as users_router

log = logging.getLogger("idp.worker")
ROUTERS: dict[str, FamilyRouter] = {
    router.family: router for router in (auth_router, users_router, roles_router, files_router)
}
DRAIN_SECONDS = 15.0


def build_broker(
    settings: Settings,
    runtime: Runtime,
    families: tuple[str, ...],
    concurrency: int,
    routers: Mapping[str, FamilyRouter] = ROUTERS,
) -> RabbitBroker:
    broker = RabbitBroker(
        settings.amqp_url,
        graceful_timeout=DRAIN_SECONDS,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        # dispatch validates the body itself; no second (stdlib json + pydantic) pass.
        serializer=None,
        # The handler takes the raw message from ``_raw_message`` and validates the body
        # itself: FastDepends' argument resolution per message would only cost time.
        apply_types=False,
    )
    for family in families:
        # Replies go out on a connection of their own (workers.replies), written before
        # the ack (docs/reliability.md).
        _subscribe(broker, family_queue(family), concurrency, _consumer(routers[family], runtime))
    _subscribe(
        broker,
        QUEUE_UNROUTED,
        16,
        _requeued_on_failure(
            functools.partial(unrouted.answer, runtime.replies), "message could not be settled"
        ),
    )
    _subscribe(
        broker,
        QUEUE_DEAD_INTAKE,
        16,
        _requeued_on_failure(
            functools.partial(dead_letters.keep, runtime.replies, runtime.client_key),
            "dead letter could not be kept",
        ),
        # Confirms: the redacted copy is in idp.dead before the original is acked.
        publisher_confirms=True,
    )
    return broker


def _subscribe(
    broker: RabbitBroker,
    queue: str,
    prefetch: int,
    handle: Callable[[IncomingMessage], Awaitable[None]],
    *,
    publisher_confirms: bool = False,
) -> None:
    """Consume ``queue`` (declared, with its arguments and bindings, by idp.topology before
    start) with ``handle``, which settles each message itself."""
    broker.subscriber(
        RabbitQueue(queue, declare=False),
        channel=Channel(prefetch_count=prefetch, publisher_confirms=publisher_confirms),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        decoder=_raw_message,
    )(handle)


async def _raw_message(message: RabbitMessage) -> IncomingMessage:
    """Hand the handler the broker's message as it came.

    Annotating the handler's parameter as ``RabbitMessage`` instead makes FastDepends
    resolve it through a synchronous context lookup, which it runs on a thread pool: a
    thread hop per message (about 14% of a worker's CPU under load, by py-spy).
    """
    raw = message.raw_message
    assert isinstance(raw, IncomingMessage)
    return raw


def _consumer(
    router: FamilyRouter, runtime: Runtime
) -> Callable[[IncomingMessage], Awaitable[None]]:
    async def consume(raw: IncomingMessage) -> None:
        await dispatch(router, runtime, raw)

    # dispatch answers every failure itself; reaching the requeue means the reply or the
    # ack could not be sent (broker gone).
    return _requeued_on_failure(consume, "message could not be settled")


def _requeued_on_failure(
    handle: Callable[[IncomingMessage], Awaitable[None]], failure: str
) -> Callable[[IncomingMessage], Awaitable[None]]:
    """``handle``, with a message it fails on requeued rather than left unacked."""

    async def settle(raw: IncomingMessage) -> None:
        try:
            await handle(raw)
        except Exception:
            log.exception(failure, extra={"routing_key": raw.type})
            if not raw.processed:
                with contextlib.suppress(Exception):
                    await raw.nack(requeue=True)

    return settle


async def serve_worker(settings: Settings, families: tuple[str, ...], concurrency: int) -> None:
    amqp_properties.install()  # a publisher's bad property costs its message, not the link
    await check_all(
        check_postgres(settings.database_url, application_role=True),
        check_redis(settings.redis_url),
        check_amqp(settings.amqp_url),
    )
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        await declare_topology(connection, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Each resource is closed as soon as it is open, whatever fails after it; on the way
    # out, in reverse: the broker drains first (the last opened), the database goes last.
    async with contextlib.AsyncExitStack() as resources:
        runtime = Runtime.open(settings)
        resources.push_async_callback(_closing("runtime", runtime.close))

        async def restore_revocations() -> None:
            if await restore_if_lost(
                runtime.db, runtime.revocations, settings.revocation_ttl_seconds
            ):
                log.warning("revocation records restored from PostgreSQL")

        await restore_revocations()
        if "files" in families:
            await runtime.open_storage()
        monitor = await aio_pika.connect_robust(settings.amqp_url)
        resources.push_async_callback(_closing("monitor connection", monitor.close))
        monitor_channel = await monitor.channel()
        if settings.outbox_relay:
            relay = OutboxRelay(runtime.db, settings.amqp_url, settings.outbox_poll_seconds)
            await relay.start()
            resources.push_async_callback(_closing("outbox relay", relay.stop))
        for job in _housekeeping(settings, runtime, families, monitor_channel, restore_revocations):
            job.start()
            resources.push_async_callback(_closing(job.name, job.stop))
        served = await runtime.metrics.serve(
            settings.worker_metrics_host, settings.worker_metrics_port
        )
        if served is not None:
            resources.push_async_callback(_closing("metrics server", served.cleanup))
        broker = build_broker(settings, runtime, families, concurrency)
        # Stops consuming and waits for in-flight handlers (DRAIN_SECONDS).
        resources.push_async_callback(broker.stop)
        await broker.start()
        resources.callback(log.info, "worker draining")
        freeze_startup_heap()
        log.info("worker ready", extra={"families": list(families), "prefetch": concurrency})
        await stop.wait()
    log.info("worker stopped")


def _housekeeping(
    settings: Settings,
    runtime: Runtime,
    families: tuple[str, ...],
    monitor: AbstractChannel,
    restore_revocations: Callable[[], Awaitable[None]],
) -> list[Periodic]:
    jobs = [
        Periodic("prune-ended-rows", 3600, lambda: prune(runtime.db)),
        Periodic("restore-revocations", 1, restore_revocations),
        Periodic(
            "sample-gauges",
            15,
            lambda: sample_gauges(runtime.db, runtime.metrics, monitor, families),
        ),
    ]
    if runtime.files.storage.configured and "files" in families:
        jobs.append(
            Periodic(
                "sweep-expired-uploads", settings.file_sweep_interval, runtime.files.sweep_expired
            )
        )
    return jobs


def _closing(what: str, close: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """``close``, logged rather than raised when it fails: shutting down goes on."""

    async def run() -> None:
        try:
            await close()
        except Exception:
            log.exception("%s did not close cleanly", what)

    return run


def run_worker(settings: Settings, families: tuple[str, ...], concurrency: int | None) -> None:
    run_async(serve_worker(settings, families, concurrency or settings.worker_prefetch))
