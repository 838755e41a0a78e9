"""Prometheus metrics of a worker process, served on ``WORKER_METRICS_PORT`` (SPEC 8)."""

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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

    def serve(self, host: str, port: int) -> None:
        """Expose the metrics over HTTP; a port in use is logged, never fatal."""
        if port <= 0:
            return
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log.warning("metrics port unavailable", extra={"port": port, "error": str(exc)})
            return
        log.info("worker metrics", extra={"url": f"http://{host}:{port}/metrics"})
