"""Prometheus metrics of a worker process, served on ``WORKER_METRICS_PORT`` (SPEC 8)."""

import logging

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("idp.worker")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "idp_worker_messages",
            "Request messages served",
            ["routing_key", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "idp_worker_message_duration_seconds",
            "Time to serve a request message",
            ["routing_key", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "idp_worker_messages_in_flight", "Messages being served", registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "idp_outbox_backlog", "Events written but not yet published", registry=self.registry
        )
        self.queue_depth = Gauge(
            "idp_queue_depth",
            "Messages ready in a request queue",
            ["queue"],
            registry=self.registry,
        )

    async def serve(self, host: str, port: int) -> web.AppRunner | None:
        """Expose the metrics over HTTP on this event loop (its runner, to close at the
        end; None when not served); a port in use is logged, never fatal.

        prometheus_client's own server gave every connection a thread for as long as the
        client kept it open: 1,000 half-sent requests took a worker from 7 to 1,007
        threads, and held them (an operability audit)."""
        if port <= 0:
            return None

        async def metrics(request: web.Request) -> web.Response:
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            log.warning("metrics port unavailable", extra={"port": port, "error": str(exc)})
            return None
        log.info("worker metrics", extra={"url": f"http://{host}:{port}/metrics"})
        return runner
