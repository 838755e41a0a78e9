"""The ceiling: ``me`` through the same stack with the least code around it.

The echo floor has no HTTP, no token, no Redis and no SQL; ``me`` needs all four. This
measures what the same libraries on the same machine reach when they do exactly ``me``'s
work and nothing else, so the bench can say how much of the distance to the echo is the
platform's and how much is the work itself:

- a bare aiohttp edge (one process, one route, no middleware, no access log): the
  bearer token verified (``TokenCodec``, the platform's pinned PyJWT parameters) and its
  session checked in Redis (``RevocationStore``, batched like the platform's), then one
  request published with the edge's own RPC client (``edge.requester.Requester``, as the
  echo floor's requester) and the reply's data written back;
- a bare aio-pika worker (one process, no FastStream, no SQLAlchemy, no logging, no
  metrics): the token verified and checked again (SPEC 5: workers verify tokens
  themselves), one statement on an asyncpg pool (``idp_user_and_tenant``, the
  platform's ``auth.me`` statement, under RLS as the application role), the row as JSON,
  the reply published to ``reply_to``, then the ack.

Its queue has the family queues' arguments and is bound to ``idp.rpc``, like the echo's.
The platform cannot beat this figure without leaving out work SPEC asks for (the
access log line, metrics, the request id, validation, the error envelope), so its
``me`` / ceiling ratio is how close the platform's own code is to free.
"""

import asyncio
import multiprocessing
import socket
import uuid
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import Any

import aio_pika
import asyncpg
import orjson
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from redis.asyncio import Redis

from bench import floors
from bench.load import LoadGenerator, Scenario
from bench.wrk import WrkLoad
from edge.requester import Requester
from idp.runner import freeze_startup_heap, run_async
from idp.security.authn import Authenticator, bearer_token
from idp.security.revocation import RevocationStore
from idp.security.tokens import TokenCodec, TokenError
from idp.settings import Settings, asyncpg_dsn

STATEMENT = "SELECT * FROM idp_user_and_tenant($1, $2)"
UNAUTHENTICATED = b'{"ok":false,"error":{"code":"unauthenticated","status":401}}'
INTERNAL = b'{"ok":false,"error":{"code":"internal_error","status":500}}'


def _authenticator(settings: Settings) -> Authenticator:
    redis: Redis = Redis.from_url(settings.redis_url, socket_timeout=2)
    ttl = settings.revocation_ttl_seconds
    return Authenticator(TokenCodec(settings), RevocationStore(redis, ttl))


async def _no_reset(_: asyncpg.Connection) -> None:
    """Nothing to reset: every statement here is one implicit transaction."""


def _worker(queue_name: str, prefetch: int, ready: Event) -> None:
    async def serve() -> None:
        settings = Settings()
        authenticator = _authenticator(settings)
        pool = await asyncpg.create_pool(
            asyncpg_dsn(settings.database_url),
            min_size=2 * settings.db_pool_size,  # as many as the worker keeps
            max_size=2 * settings.db_pool_size,
            reset=_no_reset,
        )
        connection = await aio_pika.connect(settings.amqp_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(queue_name, ensure=False)

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                header = (message.headers or {}).get("authorization")
                claims = await authenticator.authenticate(bearer_token(str(header or "")))
                async with pool.acquire() as db:
                    row = await db.fetchrow(STATEMENT, claims.tid, claims.sub)
                data = dict(row) if row else None
                body = orjson.dumps({"ok": True, "data": data}, default=str)  # asyncpg's UUID
            except TokenError:
                body = UNAUTHENTICATED
            except Exception:  # noqa: BLE001 - the caller is answered whatever happened
                body = INTERNAL
            await floors.answer(message, body)

        await queue.consume(on_message)
        freeze_startup_heap()
        ready.set()
        await asyncio.Event().wait()

    run_async(serve())


def _edge(routing_key: str, port: int, ready: Event) -> None:
    async def serve() -> None:
        settings = Settings()
        authenticator = _authenticator(settings)
        requester = Requester(settings)
        await requester.start()

        async def me(request: web.Request) -> web.Response:
            token = bearer_token(request.headers.get("Authorization"))
            try:
                await authenticator.authenticate(token)
            except TokenError:
                return web.Response(status=401)
            reply = await requester.call(
                routing_key,
                {},
                headers={"authorization": f"Bearer {token}", "x-request-id": uuid.uuid4().hex},
            )
            if not reply.get("ok"):
                return web.Response(status=int(reply["error"]["status"]))
            return web.Response(body=orjson.dumps(reply["data"]), content_type="application/json")

        app = web.Application()
        app.router.add_get("/v1/auth/me", me)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        freeze_startup_heap()
        ready.set()
        await asyncio.Event().wait()

    run_async(serve())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def measure_me(
    settings: Settings,
    scenario: Scenario,
    load_for: Callable[[str], WrkLoad | LoadGenerator],
    warmup: float,
    seconds: float,
) -> tuple[dict[str, Any], dict[str, float] | None]:
    """Run ``scenario`` (the bench's ``me``) against the bare edge and worker.

    ``load_for(url)`` makes a load generator of the bench's kind for that base URL.
    Returns the scenario's figures and, with wrk, CPU milliseconds per request."""
    suffix = uuid.uuid4().hex[:12]
    name, routing_key = f"idp.bench.ceiling.{suffix}", f"bench.ceiling.{suffix}"
    asyncio.run(floors.declare_queue(settings, name, routing_key))
    context = multiprocessing.get_context("spawn")
    port = _free_port()
    worker_ready, edge_ready = context.Event(), context.Event()
    concurrency = len(scenario.slots)
    worker = context.Process(target=_worker, args=(name, concurrency, worker_ready), daemon=True)
    edge = context.Process(target=_edge, args=(routing_key, port, edge_ready), daemon=True)
    load = None
    try:
        worker.start()
        edge.start()
        if not (worker_ready.wait(30) and edge_ready.wait(30)):
            raise RuntimeError("the ceiling's edge or worker did not start within 30 s")
        load = load_for(f"http://127.0.0.1:{port}")
        pids = {"edge": edge.pid or 0, "worker": worker.pid or 0}
        figures, samples, per_request = load.measure(scenario, warmup, seconds, pids)
        if samples or not figures["rps"]:
            raise RuntimeError(f"the ceiling's me failed: {samples[:3] or 'no answers'}")
        return figures, per_request
    finally:
        if load is not None:
            load.close()
        for process in (edge, worker):
            process.terminate()
            process.join(10)
        asyncio.run(floors.delete_queue(settings, name))
