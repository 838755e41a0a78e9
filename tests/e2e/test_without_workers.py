"""An edge with no worker behind it: not ready, and requests end within their budget."""

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import aiohttp
import pytest

from idp.settings import Settings
from tests.e2e.conftest import assert_error
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.platform import Platform
from tests.support.relay import Relay

BUDGET = 2.0


@pytest.fixture(scope="module")
def lonely_edge(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    amqp_url = sibling_vhost(settings.amqp_url, "noworker")
    ensure_vhost(amqp_url)
    platform = Platform(
        log_dir=tmp_path_factory.mktemp("lonely"),
        env={
            "AMQP_URL": amqp_url,
            "REQUEST_TIMEOUT_SECONDS": str(BUDGET),
            "READINESS_TIMEOUT_SECONDS": "5",
        },
    )
    platform.start_edge()
    platform.wait_ready("/healthz")
    yield platform
    assert platform.stop() == {"edge-0": 0}


async def test_readyz_is_503_and_requests_end_within_the_budget(lonely_edge: Platform) -> None:
    async with aiohttp.ClientSession(base_url=lonely_edge.url) as http:
        started = time.monotonic()
        async with http.get("/readyz") as response:
            assert response.status == 503
            body = await response.json()
            # SPEC 4's error shape, like every error, with what is missing beside it.
            error = body["error"]
            assert error["code"] == "unavailable"
            assert error["request_id"] == response.headers["X-Request-ID"]
        assert body["families"] == dict.fromkeys(("auth", "users", "roles", "files"), "unavailable")
        assert error["message"] == "not ready: no worker answered for auth, users, roles, files"
        # No queue has a consumer: the answer comes at once, not after the 5 s timeout.
        assert time.monotonic() - started < 2.0
        started = time.monotonic()
        async with http.post(
            "/v1/auth/login",
            json={"tenant": "acme", "email": "a@example.com", "password": "whatever"},
        ) as response:
            error = await assert_error(response, response.status)
        elapsed = time.monotonic() - started
    assert response.status in {503, 504}
    assert error["code"] in {"unavailable", "timeout"}
    assert elapsed < BUDGET + 1.0


async def test_an_edge_that_lost_redis_is_not_ready_and_says_why(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The edge checks every token's revocation in Redis: without it, every authenticated
    request is a 503. Its readiness said "ready" all the same and nothing was logged (an
    audit cut the edge's Redis through a relay). Now Redis counts, and the edge logs the
    change once."""
    redis = urlsplit(settings.redis_url)
    amqp_url = sibling_vhost(settings.amqp_url, "noworker")
    ensure_vhost(amqp_url)
    with Relay((redis.hostname or "127.0.0.1", redis.port or 6379)) as relay:
        platform = Platform(
            log_dir=tmp_path_factory.mktemp("redisless"),
            env={
                "AMQP_URL": amqp_url,
                "REDIS_URL": f"redis://127.0.0.1:{relay.port}{redis.path}",
                "READINESS_TIMEOUT_SECONDS": "0.5",
            },
        )
        edge = platform.start_edge()
        try:
            platform.wait_ready("/healthz")
            async with aiohttp.ClientSession(base_url=platform.url) as http:
                async with http.get("/readyz") as response:
                    assert (await response.json())["redis"] is True
                relay.cut()
                for _ in range(2):
                    async with http.get("/readyz") as response:
                        assert response.status == 503
                        body = await response.json()
                assert body["redis"] is False
                assert "Redis does not answer" in body["error"]["message"]
        finally:
            assert platform.stop() == {"edge-0": 0}
    warnings = [line for line in edge.log().splitlines() if "Redis does not answer" in line]
    assert len(warnings) == 1, warnings  # once per change, not per probe
    assert '"level":"warning"' in warnings[0]
