"""The brute-force limits of SPEC 4.5 against the real Redis, on a clock the test moves
(workers/auth/throttle.py, idp/security/address_limit.py): the delays double from the
fifth failure up to the cap, a correct password clears them, and the per-address window
is per minute. The e2e tier checks the same through HTTP on the real clock."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from idp.security.address_limit import AddressLimit
from idp.settings import Settings
from workers.auth.throttle import Throttle
from workers.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


def _throttle(redis: Redis, settings: Settings, clock: Clock, **limits: int) -> Throttle:
    return Throttle(redis, settings.model_copy(update=limits), clock)


async def _refused(throttle: Throttle, slug: str, email: str) -> int | None:
    """The Retry-After of a refused attempt; None if the attempt may go ahead."""
    try:
        await throttle.claim_attempt(slug, email)
    except RateLimited as refused:
        return refused.retry_after
    return None


async def test_delays_double_from_the_fifth_failure_up_to_the_cap(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=5, login_lock_max_seconds=8)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "victim@example.com"
    for _ in range(4):
        assert await _refused(throttle, slug, email) is None
        await throttle.record_failure(slug, email)
    assert await _refused(throttle, slug, email) is None  # the fifth attempt still runs
    await throttle.record_failure(slug, email)
    waits = []
    for _ in range(5):
        wait = await _refused(throttle, slug, email)
        assert wait is not None
        waits.append(wait)
        clock.advance(wait)
        assert await _refused(throttle, slug, email) is None  # one attempt, once it passed
        await throttle.record_failure(slug, email)
    assert waits == [1, 2, 4, 8, 8]  # doubling, capped at LOGIN_LOCK_MAX_SECONDS


async def test_once_a_delay_passes_a_burst_gets_one_attempt(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "victim@example.com"
    for _ in range(2):
        await throttle.record_failure(slug, email)
    clock.advance(1)
    outcomes = [await _refused(throttle, slug, email) for _ in range(5)]
    assert outcomes[0] is None
    assert all(wait is not None and wait >= 1 for wait in outcomes[1:])


async def test_a_correct_password_clears_the_record_for_every_spelling_of_the_email(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug = f"t-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        await throttle.record_failure(slug, "Victim@Example.com")
    assert await _refused(throttle, slug, "victim@example.com") == 1
    await throttle.clear(slug, "VICTIM@example.com")
    assert await _refused(throttle, slug, "victim@example.com") is None


async def test_other_accounts_are_not_slowed_by_one_under_attack(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=1)
    slug = f"t-{uuid.uuid4().hex[:8]}"
    await throttle.record_failure(slug, "victim@example.com")
    assert await _refused(throttle, slug, "victim@example.com") == 1
    assert await _refused(throttle, slug, "colleague@example.com") is None
    assert await _refused(throttle, f"{slug}-other", "victim@example.com") is None


async def test_the_address_limit_is_per_minute_window(redis: Redis) -> None:
    clock = Clock()  # 30 s into a minute
    limit = AddressLimit(redis, 3, lambda: clock().timestamp())
    address = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    assert [await limit.count(address) for _ in range(3)] == [None, None, None]
    assert await limit.count(address) == 30  # until the window ends
    clock.advance(29.5)
    assert await limit.count(address) == 1  # never 0: Retry-After is at least a second
    clock.advance(1)  # the next minute
    assert await limit.count(address) is None
    assert await limit.count("198.51.100.7-" + uuid.uuid4().hex[:6]) is None
