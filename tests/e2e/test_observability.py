"""Metrics, structured logs and trace context, seen from outside the processes (SPEC 8)."""

import asyncio
import secrets
from pathlib import Path

import aiohttp
import jwt
import orjson

from tests.e2e.conftest import PASSWORD, bearer, signup
from tests.support.platform import Platform


def _log_lines(platform: Platform) -> list[dict[str, object]]:
    lines = []
    for process in platform.processes:
        for raw in process.log().splitlines():
            if raw.startswith("{"):
                lines.append(orjson.loads(raw))
    return lines


async def test_edge_metrics_count_requests_by_route_and_status(
    http: aiohttp.ClientSession,
) -> None:
    await signup(http)
    async with http.get("/v1/auth/me") as response:
        assert response.status == 401
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'idp_http_requests_total{method="POST",route="/v1/tenants",status="201"}' in text
    assert 'idp_http_requests_total{method="GET",route="/v1/auth/me",status="401"}' in text
    # Latency by route and status (SPEC 8), so that failures do not hide in successes.
    assert (
        'idp_http_request_duration_seconds_count{method="GET",route="/v1/auth/me",status="401"}'
        in text
    )
    assert "idp_rpc_timeouts_total" in text or "# TYPE idp_rpc_timeouts counter" in text
    assert "idp_http_requests_in_flight" in text
    # Queue depth and consumers of every family, read from the broker at the scrape.
    for family in ("auth", "users", "roles", "files"):
        assert f'idp_queue_depth{{queue="idp.{family}"}}' in text
        assert f'idp_queue_consumers{{queue="idp.{family}"}} ' in text
    consumers = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('idp_queue_consumers{queue="idp.auth"}')
    ]
    assert consumers
    assert consumers[0] >= 1


async def test_worker_metrics_count_messages_by_routing_key(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    await signup(http)
    url = f"http://127.0.0.1:{platform.metrics_port}/metrics"
    async with http.get(url) as response:
        text = await response.text()
    assert 'idp_worker_messages_total{routing_key="auth.signup",status="200"}' in text
    assert (
        'idp_worker_message_duration_seconds_count{routing_key="auth.signup",status="200"}' in text
    )
    assert "idp_outbox_backlog" in text
    assert "idp_queue_depth" in text


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


async def test_idle_connections_to_the_worker_metrics_hold_no_thread_each(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """prometheus_client's server gave each connection a thread for as long as the
    client kept it open (1,000 half-sent requests: 1,007 threads). The metrics are now
    served on the worker's event loop."""
    worker = next(p for p in platform.processes if p.name == "worker")
    before = _threads(worker.popen.pid)
    idle = [await asyncio.open_connection("127.0.0.1", platform.metrics_port) for _ in range(100)]
    try:
        for _, writer in idle:
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            await writer.drain()
        await asyncio.sleep(0.5)
        assert _threads(worker.popen.pid) < before + 10
        async with http.get(f"http://127.0.0.1:{platform.metrics_port}/metrics") as response:
            assert response.status == 200  # and others are still served
    finally:
        for _, writer in idle:
            writer.close()


async def test_request_id_and_trace_cross_the_broker_and_no_secret_is_logged(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    email = f"log-{secrets.token_hex(4)}@example.com"
    owner = await signup(http, email=email)
    request_id = f"req-{secrets.token_hex(8)}"
    trace_id = secrets.token_hex(16)
    headers = {
        **bearer(owner["access_token"]),
        "X-Request-ID": request_id,
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    async with http.get("/v1/auth/me", headers=headers) as response:
        assert response.status == 200
    refresh_id = f"req-{secrets.token_hex(8)}"
    async with http.post(
        "/v1/auth/refresh",
        json={"refresh_token": owner["refresh_token"]},
        headers={"X-Auth-Mode": "bearer", "X-Request-ID": refresh_id},
    ) as response:
        rotated = await response.json()
    lines = _log_lines(platform)
    # A public action's lines name whom it turned out to be about (SPEC 8).
    refresh_lines = [line for line in lines if line.get("request_id") == refresh_id]
    assert {line["logger"] for line in refresh_lines} == {"idp.edge", "idp.worker"}
    for line in refresh_lines:
        assert (line["tenant"], line["user"]) == (owner["tenant"]["id"], owner["user"]["id"])
    ours = [line for line in lines if line.get("request_id") == request_id]
    assert {line["logger"] for line in ours} == {"idp.edge", "idp.worker"}
    assert all(line.get("trace_id") == trace_id for line in ours)
    worker_line = next(line for line in ours if line["logger"] == "idp.worker")
    assert worker_line["routing_key"] == "auth.me"
    assert worker_line["tenant"] == owner["tenant"]["id"]
    assert worker_line["user"] == owner["user"]["id"]
    everything = "\n".join(p.log() for p in platform.processes)
    secrets_used = [
        owner["access_token"],
        owner["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        PASSWORD,
    ]
    for secret in secrets_used:
        assert secret not in everything
        # A token's signature alone would be enough to spot a leak of part of it.
        if secret.count(".") == 2:
            assert jwt.get_unverified_header(secret)["alg"] == "HS256"
            assert secret.rsplit(".", 1)[1] not in everything


async def test_a_readiness_probe_and_its_pings_share_one_trace(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """Each family's ping started a trace of its own: the worker's four lines could not
    be joined to the probe's line at the edge by trace id."""
    request_id, trace_id = f"req-{secrets.token_hex(8)}", secrets.token_hex(16)
    headers = {
        "X-Request-ID": request_id,
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    async with http.get("/readyz", headers=headers) as response:
        assert response.status == 200
    for _ in range(50):  # a worker writes its line just after its reply goes out
        ours = [line for line in _log_lines(platform) if line.get("request_id") == request_id]
        if len(ours) == 5:
            break
        await asyncio.sleep(0.1)
    assert sorted(str(line.get("routing_key") or line.get("route")) for line in ours) == [
        "/readyz",
        "auth.ping",
        "files.ping",
        "roles.ping",
        "users.ping",
    ]
    assert {line.get("trace_id") for line in ours} == {trace_id}
