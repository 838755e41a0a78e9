"""SIGTERM drains in-flight requests; a reply later than its budget is dropped (SPEC 7)."""

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, signup
from tests.faults.conftest import Figures, timed
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.platform import Platform

# Slow enough hashing that logins are still in flight when the signal arrives.
SLOW_ARGON2 = {"ARGON2_MEMORY_KIB": "65536", "ARGON2_TIME_COST": "3"}


def _platform(settings: Settings, tmp_path: Path, suffix: str, **env: str) -> Platform:
    amqp_url = sibling_vhost(settings.amqp_url, suffix)
    ensure_vhost(amqp_url)
    return Platform(log_dir=tmp_path, env={"AMQP_URL": amqp_url, "OUTBOX_RELAY": "false", **env})


async def _owner(platform: Platform) -> dict[str, str]:
    async with aiohttp.ClientSession(base_url=platform.url) as http:
        result = await signup(http)
    return {"tenant": result["tenant"]["slug"], "email": "owner@example.com", "password": PASSWORD}


@pytest.mark.parametrize("victim", ["edge", "worker"])
async def test_sigterm_lets_in_flight_requests_finish_then_exits_0(
    settings: Settings, tmp_path: Path, victim: str, figures: list[Figures]
) -> None:
    platform = _platform(settings, tmp_path, "drain", REQUEST_TIMEOUT_SECONDS="20", **SLOW_ARGON2)
    worker = platform.start_worker()
    edge = platform.start_edge()
    try:
        platform.wait_ready()
        login = await _owner(platform)
        async with aiohttp.ClientSession() as http:
            calls = [
                asyncio.create_task(
                    timed(http, "POST", f"{platform.url}/v1/auth/login", json=login)
                )
                for _ in range(16)
            ]
            await asyncio.sleep(0.4)  # all published, most still hashing
            target = edge if victim == "edge" else worker
            signalled = time.monotonic()
            exit_code = await asyncio.to_thread(target.stop, 30.0)
            outcomes = await asyncio.gather(*calls)
        drained = time.monotonic() - signalled
    finally:
        platform.stop()
    statuses = [o.status for o in outcomes]
    figures.append(
        Figures(
            f"SIGTERM {victim} under load",
            sent=16,
            answered=sum(s != 0 for s in statuses),
            lost=statuses.count(0),
            notes={"statuses": sorted(set(statuses)), "drain_seconds": round(drained, 2)},
        )
    )
    assert exit_code == 0
    assert statuses == [200] * 16


async def test_a_late_reply_is_dropped_never_handed_to_another_request(
    settings: Settings, tmp_path: Path, figures: list[Figures]
) -> None:
    fast = _platform(settings, tmp_path / "fast", "late-fast")
    (tmp_path / "fast").mkdir()
    fast.start_worker()
    fast.start_edge()
    slow = _platform(
        settings,
        tmp_path,
        "late",
        REQUEST_TIMEOUT_SECONDS="0.6",
        ARGON2_MEMORY_KIB="262144",
        ARGON2_TIME_COST="4",
    )
    slow.start_worker()
    slow.start_edge()
    try:
        fast.wait_ready()
        slow.wait_ready()
        async with aiohttp.ClientSession(base_url=fast.url) as http:
            owner = await signup(http)  # the fast platform hashes at the test parameters
        me = {"Authorization": f"Bearer {owner['access_token']}"}
        login = {
            "tenant": owner["tenant"]["slug"],
            "email": "owner@example.com",
            "password": PASSWORD,
        }
        async with aiohttp.ClientSession() as http:
            late = await timed(http, "POST", f"{slow.url}/v1/auth/login", json=login)
            others = []
            deadline = time.monotonic() + 4  # the late login reply lands in this window
            while time.monotonic() < deadline:
                others += await asyncio.gather(
                    *(timed(http, "GET", f"{slow.url}/v1/auth/me", headers=me) for _ in range(5))
                )
    finally:
        slow.stop()
        fast.stop()
    figures.append(
        Figures(
            "late reply",
            sent=1 + len(others),
            answered=1 + sum(o.status != 0 for o in others),
            notes={"late_status": late.status, "late_seconds": round(late.seconds, 2)},
        )
    )
    assert late.status == 504
    assert late.seconds < 2
    assert others
    for outcome in others:
        assert outcome.status == 200
        assert outcome.body["user"]["id"] == owner["user"]["id"]
        assert "expires_in" not in outcome.body  # never the login's reply


async def test_sigterm_lets_a_body_still_arriving_finish(
    settings: Settings, tmp_path: Path
) -> None:
    """Shutting down, aiohttp dropped every byte that arrived: a login whose body was
    half sent when SIGTERM came waited out its budget and was answered 400 "the body did
    not arrive in time", for the server's shutdown (an operability audit)."""
    platform = _platform(settings, tmp_path, "drain-body", REQUEST_TIMEOUT_SECONDS="10")
    platform.start_worker()
    edge = platform.start_edge()
    try:
        platform.wait_ready()
        body = orjson.dumps(await _owner(platform))
        reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
        writer.write(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
            b"X-Auth-Mode: bearer\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10]
        )
        await writer.drain()
        await asyncio.sleep(0.3)  # the request is in progress, its body half there
        stopping = asyncio.create_task(asyncio.to_thread(edge.stop, 30.0))
        await asyncio.sleep(0.5)  # the edge has begun to shut down
        writer.write(body[10:])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 15)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert await stopping == 0
    finally:
        platform.stop()
