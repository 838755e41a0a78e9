"""Brute-force limits in Redis, enforced by the worker (SPEC 4.5; docs/security.md).

Two independent limits:

- **Per account** (tenant slug + the e-mail as PostgreSQL folds it for the account
  lookup, so that every spelling finding an account shares its record; whether or not
  the account exists, so the limiter reveals nothing): after ``LOGIN_MAX_FAILURES``
  failures every further attempt must wait a delay that doubles per failure (1 s, 2 s,
  4 s, ...) up to ``LOGIN_LOCK_MAX_SECONDS``. It is a delay, never a lock: once it has
  passed, one attempt is let through (it claims the next delay, so a burst at that
  moment gets one try), and a correct password, from any address, succeeds and clears
  the record. Attempts in flight count too: while those running could use up the
  failures left, the next one waits for them, so a burst of parallel guesses gets no
  more checks than a sequence (a burst of correct ones only waits its turn).
- **Per client address**: ``IP_RATE_LIMIT_PER_MINUTE`` login, sign-up and reset requests
  per fixed one-minute window. It stops one source guessing across many accounts, and does
  not touch a user signing in from another address.

Both run as Lua scripts, so concurrent workers see one consistent count. The time comes
from the service's clock (injectable in tests), never from Redis.
"""

import asyncio
import hashlib
import math
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from idp.security.address_limit import COUNT_SCRIPT, LIMITED, AddressLimit
from idp.settings import Settings
from workers.errors import RateLimited
from workers.uow import must_commit

# Failures are forgotten this long after the last one.
FAILURE_MEMORY_SECONDS = 24 * 3600
BASE_DELAY_SECONDS = 1.0
# An attempt in flight holds its place this long at most: one whose worker died frees it.
ATTEMPT_HOLD_SECONDS = 30.0
# How long an attempt waits for those in flight before it is refused (429, Retry-After 1).
WAIT_SECONDS = 5.0
# The same for an account that exists and one that does not.
_ACCOUNT_DELAYED = "too many failed attempts for this account; retry later"
# Password reset mails per account and clock hour: more are not sent (the request is
# still 202). Each mail voids the link before it, so without a bound anyone could flood a
# mailbox and keep killing the link its owner is about to click.
RESET_MAILS_PER_HOUR = 5
# Refusals an account's delay makes are audited at most once per this many seconds.
REFUSALS_REPORTED_EVERY = 60


class AccountDelayed(RateLimited):
    """The account's delay refused an attempt; ``report`` for the first such refusal in
    ``REFUSALS_REPORTED_EVERY`` seconds, which the audit trail records (one entry per
    refusal would let anyone fill it: a refusal costs no password check)."""

    def __init__(self, retry_after: int, *, report: bool) -> None:
        super().__init__(_ACCOUNT_DELAYED, retry_after=retry_after)
        self.report = report


# KEYS[1] account record, KEYS[2] its attempts in flight (a sorted set by start time);
# ARGV now, max failures, base delay, max delay, ttl, attempt id, hold seconds.
# Returns the seconds to wait (0: go ahead; -1: attempts in flight could use up the
# failures left, so wait for them). Past the limit, going ahead claims the next delay so
# that parallel attempts cannot all slip through the moment a delay ends.
_CLAIM = """
local now = tonumber(ARGV[1])
local failures = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local until_ = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if now < until_ then return tostring(until_ - now) end
local limit = tonumber(ARGV[2])
local hold = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tostring(now - hold))
if failures >= limit then
  local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - limit), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'u', tostring(now + delay))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
elseif failures + redis.call('ZCARD', KEYS[2]) >= limit then
  return '-1'
end
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('EXPIRE', KEYS[2], math.ceil(hold))
return '0'
"""

# Same keys and arguments; records one failure, sets the delay it earns, and ends the
# attempt.
_FAIL = """
local now = tonumber(ARGV[1])
local failures = redis.call('HINCRBY', KEYS[1], 'f', 1)
local limit = tonumber(ARGV[2])
if failures >= limit then
  local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - limit), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'u', tostring(now + delay))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('ZREM', KEYS[2], ARGV[6])
return failures
"""


def _account_keys(tenant_slug: str, email_key: str) -> tuple[str, str]:
    # Not folded again here: the key is the lookup's own fold (users.email_key), and a
    # coarser one (casefold's ß -> ss) would put two accounts under one record.
    digest = hashlib.sha256(f"{tenant_slug}\n{email_key}".encode()).hexdigest()
    # One hash tag: both keys of a script live in the same slot of a Redis Cluster.
    record = f"idp:throttle:account:{{{digest}}}"
    return record, f"{record}:attempts"


class Attempt:
    """One password check the account's limit let through; it ends failed, succeeded,
    or (an error before the verdict) released without counting."""

    def __init__(self, throttle: "Throttle", keys: tuple[str, str]) -> None:
        self._throttle = throttle
        self.keys = keys
        self.id = uuid.uuid4().hex
        self.ended = False

    async def failed(self) -> None:
        # Counted is counted: the failure's audit entry and event must then commit too,
        # whatever the deadline, or a publisher picking its own deadline could guess
        # passwords that never reach the audit trail (workers/uow.py).
        must_commit()
        self.ended = True
        await self._throttle.run(self._throttle.fail_script, self.keys, self.id)

    async def succeeded(self) -> None:
        """A correct password: the account's failures are forgotten."""
        self.ended = True
        async with self._throttle.redis.pipeline(transaction=False) as both:
            both.delete(self.keys[0])
            both.zrem(self.keys[1], self.id)
            await both.execute()

    async def release(self) -> None:
        self.ended = True
        await self._throttle.redis.zrem(self.keys[1], self.id)


class Throttle:
    def __init__(self, redis: "Redis", settings: Settings, clock: Callable[[], datetime]) -> None:
        self.redis = redis
        # EVALSHA: a script's source goes to Redis once, not with every call.
        self.claim_script = redis.register_script(_CLAIM)
        self.fail_script = redis.register_script(_FAIL)
        self._mail_count = redis.register_script(COUNT_SCRIPT)
        self._max_failures = settings.login_max_failures
        self._max_delay = settings.login_lock_max_seconds
        self._clock = clock
        self._addresses = AddressLimit(
            redis, settings.ip_rate_limit_per_minute, lambda: clock().timestamp()
        )

    async def run(self, script: AsyncScript, keys: tuple[str, str], attempt_id: str) -> Any:
        return await script(
            keys=keys,
            args=[
                repr(self._clock().timestamp()),
                self._max_failures,
                repr(BASE_DELAY_SECONDS),
                self._max_delay,
                max(FAILURE_MEMORY_SECONDS, self._max_delay * 2),
                attempt_id,
                repr(ATTEMPT_HOLD_SECONDS),
            ],
        )

    async def check_address(self, rate_key: str) -> None:
        """Count one request from ``rate_key`` (``Client.rate_key``: the address, or the
        publisher's broker account; publishers naming neither share one bucket, so they
        cannot escape the limit by leaving the header out); 429 past the per-minute limit.
        """
        retry_after = await self._addresses.count(rate_key)
        if retry_after is not None:
            raise RateLimited(LIMITED, retry_after=retry_after)

    async def reset_mail_allowed(self, user_id: UUID) -> bool:
        """Count one reset mail to ``user_id``; False past ``RESET_MAILS_PER_HOUR`` in
        this clock hour."""
        window = int(self._clock().timestamp() // 3600)
        key = f"idp:throttle:reset-mail:{user_id}:{window}"
        return int(await self._mail_count(keys=[key], args=[3600])) <= RESET_MAILS_PER_HOUR

    @asynccontextmanager
    async def attempt(self, tenant_slug: str, email_key: str) -> AsyncIterator[Attempt]:
        """One password check against the account (``email_key``: its address as the
        account lookup folds it, ``users.email_key``): 429 while its delay runs; otherwise
        the check goes ahead as soon as the attempts in flight cannot use up the failures
        left (a burst of guesses gets ``LOGIN_MAX_FAILURES`` checks, not one per request
        in flight). Leaving without a verdict releases the place uncounted."""
        attempt = Attempt(self, _account_keys(tenant_slug, email_key))
        await self._claim(attempt)
        try:
            yield attempt
        finally:
            if not attempt.ended:
                with suppress(RedisError):  # the place frees itself after the hold anyway
                    await attempt.release()

    async def _claim(self, attempt: Attempt) -> None:
        waited, pause = 0.0, 0.01
        while True:
            wait = float(await self.run(self.claim_script, attempt.keys, attempt.id))
            if wait > 0:
                raise await self._delayed(attempt, max(1, math.ceil(wait)))
            if wait == 0:
                return
            if waited >= WAIT_SECONDS:
                raise await self._delayed(attempt, 1)
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, 0.2)

    async def _delayed(self, attempt: Attempt, retry_after: int) -> AccountDelayed:
        # Beside the account's record (one hash tag: the same Redis Cluster slot).
        first = await self.redis.set(
            f"{attempt.keys[0]}:reported", b"1", nx=True, ex=REFUSALS_REPORTED_EVERY
        )
        return AccountDelayed(retry_after, report=bool(first))
