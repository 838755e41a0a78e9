"""Prometheus metrics of the edge, served at ``/metrics`` (SPEC 8)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "idp_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "idp_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "idp_http_requests_in_flight", "HTTP requests being served", registry=self.registry
        )
        self.rpc_timeouts = Counter(
            "idp_rpc_timeouts",
            "Requests with no reply within their budget",
            ["routing_key"],
            registry=self.registry,
        )
        self.rpc_pending = Gauge(
            "idp_rpc_pending", "Requests published and awaiting a reply", registry=self.registry
        )
        # Read from the broker at each scrape (edge/app.py), as the workers' own gauge is.
        self.queue_depth = Gauge(
            "idp_queue_depth",
            "Messages ready in a request queue",
            ["queue"],
            registry=self.registry,
        )
        self.queue_consumers = Gauge(
            "idp_queue_consumers",
            "Workers consuming a request queue",
            ["queue"],
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(route, method, code).inc()
        self.latency.labels(route, method, code).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
