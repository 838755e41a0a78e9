"""``idp edge``: the aiohttp application, its resources and its lifecycle."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.actions import family_queue
from contracts.catalog import FAMILIES, PING
from contracts.errors import ErrorCode
from edge.api_docs import add_api_docs
from edge.errors import ApiError, error_body, json_response
from edge.gateway import Gateway
from edge.metrics import EdgeMetrics
from edge.middleware import build_middleware, expect_handler
from edge.protocol import FIELD_LIMIT, TARGET_LIMIT, EdgeRunner
from edge.request_keys import REQUEST_ID, TRACE
from edge.requester import Requester, RpcTimeout, RpcUnavailable
from edge.routes import ROUTES, HttpRoute
from idp import amqp_properties, redis_pool
from idp.preflight import check_all, check_amqp, check_redis, edge_port_taken
from idp.runner import freeze_startup_heap, run_async
from idp.security.address_limit import AddressLimit
from idp.security.authn import Authenticator
from idp.security.revocation import RevocationStore
from idp.security.tokens import TokenCodec
from idp.settings import Settings

log = logging.getLogger("idp.edge")
GATEWAY = web.AppKey("gateway", Gateway)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", EdgeMetrics)
REDIS = web.AppKey("redis", Redis)
# What the last readiness probe found: a change is logged once.
LAST_READINESS = web.AppKey("last_readiness", list)
DRAIN_SECONDS = 15.0
KEEPALIVE_SECONDS = 15.0


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[REDIS] = redis = redis_pool.connect(settings.redis_url)
    requester = Requester(settings)
    await requester.start()
    revocations = RevocationStore(redis, settings.revocation_ttl_seconds)
    app[GATEWAY] = gateway = Gateway(
        settings,
        requester,
        Authenticator(TokenCodec(settings), revocations),
        app[METRICS],
        AddressLimit(redis, settings.ip_rate_limit_per_minute, time.time),
    )
    yield
    await gateway.close()
    await requester.stop()
    await redis.aclose()


def _route_handler(route: HttpRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await request.app[GATEWAY].forward(request, route)

    handle.__name__ = route.action.key.replace(".", "_")
    return handle


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the broker is connected and a worker of every family answers a ping."""
    gateway = request.app[GATEWAY]
    settings = request.app[SETTINGS]

    async def ping(family: str) -> bool:
        # A family with no consumer cannot answer: say so at once, not after the timeout
        # (a probe with a shorter timeout of its own would see no answer at all).
        if not await gateway.has_worker(family):
            return False
        try:
            reply = await gateway.requester.call(
                PING[family].key,
                {},
                # The probe's own ids, so its pings' log lines join its line at the edge.
                headers={"x-request-id": request[REQUEST_ID], "traceparent": request[TRACE].header},
                budget=settings.readiness_timeout_seconds,
            )
        except (RpcUnavailable, RpcTimeout):
            return False
        return bool(reply.get("ok"))

    async def redis_answers() -> bool:
        # The edge checks every token's revocation there: without it, every
        # authenticated request is a 503, so the edge is not ready either.
        try:
            async with asyncio.timeout(settings.readiness_timeout_seconds):
                await request.app[REDIS].ping()
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    redis_ok, *answers = await asyncio.gather(redis_answers(), *(ping(f) for f in FAMILIES))
    families = {f: ("ok" if ok else "unavailable") for f, ok in zip(FAMILIES, answers, strict=True)}
    ready = gateway.requester.connected and redis_ok and all(answers)
    body: dict[str, Any] = {
        "status": "ready" if ready else "unavailable",
        "broker": gateway.requester.connected,
        "redis": redis_ok,
        "families": families,
    }
    if not ready:
        # An error like every other (SPEC 4's shape), which says what is missing too.
        missing = [family for family, ok in zip(FAMILIES, answers, strict=True) if not ok]
        reasons = [
            *(["the broker is not connected"] if not gateway.requester.connected else []),
            *(["Redis does not answer"] if not redis_ok else []),
            *([f"no worker answered for {', '.join(missing)}"] if missing else []),
        ]
        reason = "; ".join(reasons)
        not_ready = ApiError(ErrorCode.UNAVAILABLE, f"not ready: {reason}")
        body = {**error_body(not_ready, request[REQUEST_ID]), **body}
    state = "ready" if ready else f"not ready: {reason}"
    last = request.app[LAST_READINESS]
    if last != [state]:
        # Once per change, not once per probe: an operator sees when and why.
        log.log(logging.INFO if ready else logging.WARNING, state)
        last[:] = [state]
    response = json_response(body, status=200 if ready else 503)
    if not ready:
        response.headers["Retry-After"] = "1"
    return response


async def metrics(request: web.Request) -> web.Response:
    edge_metrics = request.app[METRICS]
    requester = request.app[GATEWAY].requester
    edge_metrics.rpc_pending.set(requester.in_flight)
    queues = [family_queue(family) for family in FAMILIES]
    try:
        # One bound for the whole scrape, however the broker behaves.
        async with asyncio.timeout(request.app[SETTINGS].readiness_timeout_seconds):
            counts = [await requester.queue_counts(queue) for queue in queues]
    except (RpcUnavailable, TimeoutError):
        # Unknown while the broker is away: no figure rather than a stale one.
        for queue in queues:
            for gauge in (edge_metrics.queue_depth, edge_metrics.queue_consumers):
                with contextlib.suppress(KeyError):
                    gauge.remove(queue)
    else:
        for queue, (depth, consumers) in zip(queues, counts, strict=True):
            edge_metrics.queue_depth.labels(queue).set(depth)
            edge_metrics.queue_consumers.labels(queue).set(consumers)
    body, content_type = edge_metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[build_middleware(GATEWAY, METRICS, settings.max_header_bytes)],
    )
    app[SETTINGS] = settings
    app[METRICS] = EdgeMetrics()
    app[LAST_READINESS] = []
    app.cleanup_ctx.append(_resources)
    expect = expect_handler(settings.max_body_bytes)
    for route in ROUTES:
        if route.method == "GET":  # and HEAD, as for every GET (RFC 9110 9.3.2)
            app.router.add_get(route.path, _route_handler(route), expect_handler=expect)
        else:
            app.router.add_route(
                route.method, route.path, _route_handler(route), expect_handler=expect
            )
    app.router.add_get("/healthz", healthz, expect_handler=expect)
    app.router.add_get("/readyz", readyz, expect_handler=expect)
    app.router.add_get("/metrics", metrics, expect_handler=expect)
    add_api_docs(app, ROUTES, settings, expect)
    return app


async def serve_edge(settings: Settings) -> None:
    amqp_properties.install()  # a bad property on a reply costs that reply, not the link
    await check_all(check_amqp(settings.amqp_url), check_redis(settings.redis_url))
    runner = EdgeRunner(
        create_app(settings),
        max_line_size=TARGET_LIMIT,
        max_field_size=FIELD_LIMIT,
        access_log=None,
        shutdown_timeout=DRAIN_SECONDS,
        header_timeout=settings.request_timeout_seconds,
        # An idle kept-alive connection closes after this (aiohttp's default is an hour).
        # It also bounds a connection idling with the start of a next request already
        # sent behind a complete one, which the header deadline cannot see.
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.edge_host, settings.edge_port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise edge_port_taken(settings.edge_host, settings.edge_port, exc) from None
    freeze_startup_heap()
    log.info("edge listening", extra={"url": f"http://{settings.edge_host}:{settings.edge_port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("edge draining")
    await runner.cleanup()  # stops accepting, lets in-flight requests finish, then cleanup_ctx
    log.info("edge stopped")


def run_edge(settings: Settings) -> None:
    run_async(serve_edge(settings))
