"""The brute-force limits of SPEC 4.5 against the real Redis, on a clock the test moves
(workers/auth/throttle.py, idp/security/address_limit.py): the delays double from the
fifth failure up to the cap, a correct password clears them, attempts in flight count,
and the per-address window is per minute. The e2e tier checks the same through HTTP on
the real clock."""

import asyncio
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
    """The Retry-After of a refused attempt; None if the attempt may go ahead (it is
    then released uncounted)."""
    try:
        async with throttle.attempt(slug, email):
            return None
    except RateLimited as refused:
        return refused.retry_after


async def _fail(throttle: Throttle, slug: str, email: str) -> None:
    async with throttle.attempt(slug, email) as attempt:
        await attempt.failed()


async def _succeed(throttle: Throttle, slug: str, email: str) -> None:
    async with throttle.attempt(slug, email) as attempt:
        await attempt.succeeded()


async def test_delays_double_from_the_fifth_failure_up_to_the_cap(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=5, login_lock_max_seconds=8)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "victim@example.com"
    for _ in range(4):
        assert await _refused(throttle, slug, email) is None
        await _fail(throttle, slug, email)
    await _fail(throttle, slug, email)  # the fifth attempt still runs
    waits = []
    for _ in range(5):
        wait = await _refused(throttle, slug, email)
        assert wait is not None
        waits.append(wait)
        clock.advance(wait)
        await _fail(throttle, slug, email)  # one attempt, once it passed
    assert waits == [1, 2, 4, 8, 8]  # doubling, capped at LOGIN_LOCK_MAX_SECONDS


async def test_once_a_delay_passes_a_burst_gets_one_attempt(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "victim@example.com"
    for _ in range(2):
        await _fail(throttle, slug, email)
    clock.advance(1)
    outcomes = [await _refused(throttle, slug, email) for _ in range(5)]
    assert outcomes[0] is None
    assert all(wait is not None and wait >= 1 for wait in outcomes[1:])


async def test_a_correct_password_clears_the_record(redis: Redis, settings: Settings) -> None:
    """From any address. (Every spelling of the address shares the record because the
    login keys it on the lookup's own fold: e2e/test_guarded_platform.py.)"""
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug = f"t-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        await _fail(throttle, slug, "victim@example.com")
    assert await _refused(throttle, slug, "victim@example.com") == 1
    clock.advance(1)
    await _succeed(throttle, slug, "victim@example.com")
    assert await _refused(throttle, slug, "victim@example.com") is None
    await _fail(throttle, slug, "victim@example.com")  # counting starts again from one
    assert await _refused(throttle, slug, "victim@example.com") is None


async def test_other_accounts_are_not_slowed_by_one_under_attack(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=1)
    slug = f"t-{uuid.uuid4().hex[:8]}"
    await _fail(throttle, slug, "victim@example.com")
    assert await _refused(throttle, slug, "victim@example.com") == 1
    assert await _refused(throttle, slug, "colleague@example.com") is None
    assert await _refused(throttle, f"{slug}-other", "victim@example.com") is None


async def test_a_burst_of_guesses_gets_only_the_failures_left_checked(
    redis: Redis, settings: Settings
) -> None:
    """Attempts in flight hold the failures left: with three left, three checks run and
    the rest wait for them; once they fail, the rest are refused unchecked (a burst of
    60 wrong passwords was 60 checks, as many as the worker had in flight)."""
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=5)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "victim@example.com"
    for _ in range(2):
        await _fail(throttle, slug, email)
    checked: list[int] = []
    verdict = asyncio.Event()

    async def guess(n: int) -> str:
        try:
            async with throttle.attempt(slug, email) as attempt:
                checked.append(n)
                await verdict.wait()  # the hash takes its time
                await attempt.failed()
                return "401"
        except RateLimited:
            return "429"

    guesses = [asyncio.create_task(guess(n)) for n in range(12)]
    await asyncio.sleep(0.3)
    assert len(checked) == 3  # the others wait for these three
    verdict.set()
    outcomes = await asyncio.gather(*guesses)
    assert sorted(outcomes) == ["401"] * 3 + ["429"] * 9
    assert len(checked) == 3


async def test_a_burst_of_correct_passwords_waits_its_turn_and_all_get_in(
    redis: Redis, settings: Settings
) -> None:
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "user@example.com"

    async def login() -> None:
        async with throttle.attempt(slug, email) as attempt:
            await asyncio.sleep(0.02)  # the hash
            await attempt.succeeded()

    await asyncio.wait_for(asyncio.gather(*(login() for _ in range(10))), timeout=5)


async def test_an_attempt_left_without_a_verdict_frees_its_place_uncounted(
    redis: Redis, settings: Settings
) -> None:
    """An error between claim and verdict (the database down: 503) neither counts as a
    failure nor holds the place; a place whose worker died frees itself after the hold."""
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=1)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "user@example.com"
    for _ in range(3):
        with pytest.raises(ConnectionError):
            async with throttle.attempt(slug, email):
                raise ConnectionError("PostgreSQL went away")
    assert await _refused(throttle, slug, email) is None
    dying = throttle.attempt(slug, email)
    await dying.__aenter__()  # claimed, and its worker never comes back
    started = asyncio.get_running_loop().time()
    assert await _refused(throttle, slug, email) == 1  # waited for it, then refused
    assert asyncio.get_running_loop().time() - started >= 4
    clock.advance(31)
    assert await _refused(throttle, slug, email) is None
    await dying.__aexit__(None, None, None)


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


async def test_the_scripts_run_again_after_redis_forgot_them(
    redis: Redis, settings: Settings
) -> None:
    """They go by SHA (EVALSHA); a restarted or failed-over Redis has an empty script
    cache, and the next call loads them again instead of failing."""
    clock = Clock()
    throttle = _throttle(redis, settings, clock, login_max_failures=2)
    slug, email = f"t-{uuid.uuid4().hex[:8]}", "owner@example.com"
    await _fail(throttle, slug, email)
    await redis.script_flush()
    await _fail(throttle, slug, email)
    assert await _refused(throttle, slug, email) == 1  # two failures counted: the delay runs
    await redis.script_flush()
    address = f"192.0.2.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    assert await AddressLimit(redis, 3, lambda: clock().timestamp()).count(address) is None
