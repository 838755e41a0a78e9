"""The floors every scenario is compared with, measured in the same run.

- Argon2id: the configured parameters, a bare hashing loop in one process per core.
- RPC echo: the edge's own RPC client (``edge.requester.Requester``: one connection,
  publisher confirms, ``mandatory``, direct reply-to, ``expiration``) against one bare
  aio-pika responder process that answers the way the workers do (publish the reply to
  ``reply_to``, then ack). The echo queue has the same type and arguments as the family
  queues and is bound to ``idp.rpc``, so the broker does the same work as on the real path.
"""

import asyncio
import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import aio_pika
import argon2
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from bench.stats import percentile
from contracts.actions import EXCHANGE_RPC
from edge.requester import Requester
from idp.runner import run_async
from idp.settings import Settings
from idp.topology import request_queue_arguments

ECHO_REPLY = b'{"ok":true,"data":{}}'


def _hash_loop(memory_kib: int, time_cost: int, parallelism: int, seconds: float) -> int:
    hasher = argon2.PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
    )
    deadline = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < deadline:
        hasher.hash("a bench password of ordinary length")
        done += 1
    return done


def argon2_hashes_per_second(settings: Settings, seconds: float) -> float:
    """Hashes per second with the configured parameters, one process per core."""
    cores = os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(cores, mp_context=context) as pool:
        started = time.perf_counter()
        counts = list(
            pool.map(
                _hash_loop,
                *zip(
                    *[
                        (
                            settings.argon2_memory_kib,
                            settings.argon2_time_cost,
                            settings.argon2_parallelism,
                            seconds,
                        )
                    ]
                    * cores,
                    strict=True,
                ),
            )
        )
        elapsed = time.perf_counter() - started
    return sum(counts) / max(elapsed, seconds)


@dataclass(frozen=True, slots=True)
class EchoFloor:
    rps: float
    p50_ms: float


async def answer(message: AbstractIncomingMessage, body: bytes) -> None:
    """Reply as the workers do: publish to ``reply_to``, then ack."""
    await message.channel.basic_publish(
        body,
        exchange="",
        routing_key=message.reply_to or "",
        properties=Basic.Properties(
            correlation_id=message.correlation_id, content_type="application/json"
        ),
    )
    await message.ack()


def _respond(amqp_url: str, queue_name: str, prefetch: int) -> None:
    """The responder process: reply to every request, then ack, until terminated."""

    async def serve() -> None:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(queue_name, ensure=False)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await answer(message, ECHO_REPLY)

        await queue.consume(on_message)
        await asyncio.Event().wait()

    run_async(serve())


async def declare_queue(settings: Settings, name: str, routing_key: str) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            name, durable=True, arguments=request_queue_arguments(settings)
        )
        await queue.bind(EXCHANGE_RPC, routing_key)


async def delete_queue(settings: Settings, name: str) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


async def _drive_echo(
    settings: Settings, routing_key: str, concurrency: int, warmup: float, seconds: float
) -> EchoFloor:
    requester = Requester(settings)
    await requester.start()
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def one_slot() -> None:
        while (now := loop.time()) < stop_at:
            began = time.perf_counter()
            await requester.call(routing_key, {}, headers={"x-request-id": uuid.uuid4().hex})
            if now >= measure_from:
                latencies.append((time.perf_counter() - began) * 1000)

    try:
        await asyncio.gather(*(one_slot() for _ in range(concurrency)))
    finally:
        await requester.stop()
    return EchoFloor(len(latencies) / seconds, percentile(latencies, 50))


def rpc_echo(settings: Settings, concurrency: int, warmup: float, seconds: float) -> EchoFloor:
    """Round trips per second and median latency of a bare echo, ``concurrency`` in flight."""
    suffix = uuid.uuid4().hex[:12]
    name, routing_key = f"idp.bench.echo.{suffix}", f"bench.echo.{suffix}"
    asyncio.run(declare_queue(settings, name, routing_key))
    responder = multiprocessing.get_context("spawn").Process(
        target=_respond, args=(settings.amqp_url, name, concurrency), daemon=True
    )
    responder.start()
    try:
        result: list[EchoFloor] = []

        async def drive() -> None:
            result.append(await _drive_echo(settings, routing_key, concurrency, warmup, seconds))

        run_async(drive())
        return result[0]
    finally:
        responder.terminate()
        responder.join(10)
        asyncio.run(delete_queue(settings, name))
