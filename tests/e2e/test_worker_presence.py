"""No worker for a family: 503 at once, nothing published; back to 200 when one returns
(SPEC 4: "503 | broker or no worker available"; edge/availability.py)."""

import asyncio
import time
from pathlib import Path

import aio_pika
import aiohttp

from contracts.actions import family_queue
from idp.settings import Settings
from tests.e2e.conftest import bearer, signup
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.platform import Platform


async def _queued(amqp_url: str, family: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(family_queue(family), passive=True)
        result = queue.declaration_result
        return int(result.message_count or 0)


async def test_a_family_without_workers_is_503_at_once_and_nothing_is_published(
    settings: Settings, tmp_path: Path
) -> None:
    amqp_url = sibling_vhost(settings.amqp_url, "presence")
    ensure_vhost(amqp_url)
    platform = Platform(log_dir=tmp_path, env={"AMQP_URL": amqp_url, "OUTBOX_RELAY": "false"})
    worker = platform.start_worker()
    platform.start_edge()
    try:
        platform.wait_ready()
        async with aiohttp.ClientSession(base_url=platform.url) as http:
            owner = await signup(http)
            me = bearer(owner["access_token"])
            async with http.get("/v1/users", headers=me) as r:
                assert r.status == 200

            assert worker.stop() == 0  # SIGTERM: drains, then exits
            answers: list[tuple[int, float]] = []
            deadline = time.monotonic() + 30
            # Within about a second the edge has seen the queue without a consumer.
            while time.monotonic() < deadline and [s for s, _ in answers[-3:]] != [503] * 3:
                started = time.monotonic()
                async with http.get("/v1/users", headers=me) as r:
                    answers.append((r.status, time.monotonic() - started))
                    if r.status == 503:
                        body = await r.json()
                        assert body["error"]["code"] == "unavailable"
                        assert r.headers["Retry-After"] == "1"
            statuses = {status for status, _ in answers}
            assert statuses <= {200, 503, 504}, answers
            assert [s for s, _ in answers[-3:]] == [503] * 3, answers
            # Refused at once, not after the 10 s budget, and never left in the queue.
            assert all(seconds < 1.0 for status, seconds in answers if status == 503), answers
            # Only requests published before the edge looked (within a second of the
            # stop) can have waited for their budget.
            assert sum(1 for status, _ in answers if status == 504) <= 1, answers
            queued = await _queued(amqp_url, "users")
            for _ in range(5):
                async with http.get("/v1/users", headers=me) as r:
                    assert r.status == 503
            assert await _queued(amqp_url, "users") <= queued  # nothing published

            platform.start_worker()
            deadline = time.monotonic() + 30
            status = 0
            while time.monotonic() < deadline and status != 200:
                async with http.get("/v1/users", headers=me) as r:
                    status = r.status
                    assert status in {200, 503}, await r.text()
                if status != 200:
                    await asyncio.sleep(0.2)
            assert status == 200
    finally:
        platform.stop()
