"""Brute-force limits in Redis, enforced by the worker (SPEC 4.5; docs/security.md).

Two independent limits:

- **Per account** (tenant slug + casefolded email, whether or not the account exists, so
  the limiter reveals nothing): after ``LOGIN_MAX_FAILURES`` failures every further
  attempt must wait a delay that doubles per failure (1 s, 2 s, 4 s, ...) up to
  ``LOGIN_LOCK_MAX_SECONDS``. It is a delay, never a lock: once it has passed, one attempt
  is let through (it claims the next delay, so a burst at that moment gets one try), and
  a correct password, from any address, succeeds and clears the record.
- **Per client address**: ``IP_RATE_LIMIT_PER_MINUTE`` login, sign-up and reset requests
  per fixed one-minute window. It stops one source guessing across many accounts, and does
  not touch a user signing in from another address.

Both run as Lua scripts, so concurrent workers see one consistent count. The time comes
from the service's clock (injectable in tests), never from Redis.
"""

import hashlib
import math
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from idp.security.address_limit import AddressLimit
from idp.settings import Settings
from workers.errors import RateLimited
from workers.uow import must_commit

# Failures are forgotten this long after the last one.
FAILURE_MEMORY_SECONDS = 24 * 3600
BASE_DELAY_SECONDS = 1.0

# KEYS[1] account record; ARGV now, max failures, base delay, max delay, ttl.
# Returns the seconds to wait (0: go ahead). Past the limit, going ahead claims the next
# delay so that parallel attempts cannot all slip through the moment a delay ends.
_CLAIM = """
local now = tonumber(ARGV[1])
local failures = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local until_ = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if now < until_ then return tostring(until_ - now) end
local limit = tonumber(ARGV[2])
if failures >= limit then
  local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - limit), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'u', tostring(now + delay))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
end
return '0'
"""

# Same arguments; records one failure and sets the delay it earns.
_FAIL = """
local now = tonumber(ARGV[1])
local failures = redis.call('HINCRBY', KEYS[1], 'f', 1)
local limit = tonumber(ARGV[2])
if failures >= limit then
  local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - limit), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'u', tostring(now + delay))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return failures
"""


def _account_key(tenant_slug: str, email: str) -> str:
    digest = hashlib.sha256(f"{tenant_slug}\n{email.casefold()}".encode()).hexdigest()
    return f"idp:throttle:account:{digest}"


class Throttle:
    def __init__(self, redis: "Redis", settings: Settings, clock: Callable[[], datetime]) -> None:
        self._redis = redis
        self._max_failures = settings.login_max_failures
        self._max_delay = settings.login_lock_max_seconds
        self._clock = clock
        self._addresses = AddressLimit(
            redis, settings.ip_rate_limit_per_minute, lambda: clock().timestamp()
        )

    def _args(self) -> list[str]:
        return [
            repr(self._clock().timestamp()),
            str(self._max_failures),
            repr(BASE_DELAY_SECONDS),
            str(self._max_delay),
            str(max(FAILURE_MEMORY_SECONDS, self._max_delay * 2)),
        ]

    async def check_address(self, rate_key: str) -> None:
        """Count one request from ``rate_key`` (``Client.rate_key``: the address, or the
        publisher's broker account; publishers naming neither share one bucket, so they
        cannot escape the limit by leaving the header out); 429 past the per-minute limit.
        """
        retry_after = await self._addresses.count(rate_key)
        if retry_after is not None:
            raise RateLimited(retry_after=retry_after)

    async def claim_attempt(self, tenant_slug: str, email: str) -> None:
        """Raise 429 while the account's delay runs; otherwise let one attempt proceed."""
        key = _account_key(tenant_slug, email)
        wait = float(await self._redis.eval(_CLAIM, 1, key, *self._args()))
        if wait > 0:
            raise RateLimited(retry_after=max(1, math.ceil(wait)))

    async def record_failure(self, tenant_slug: str, email: str) -> None:
        # Counted is counted: the failure's audit entry and event must then commit too,
        # whatever the deadline, or a publisher picking its own deadline could guess
        # passwords that never reach the audit trail (workers/uow.py).
        must_commit()
        await self._redis.eval(_FAIL, 1, _account_key(tenant_slug, email), *self._args())

    async def clear(self, tenant_slug: str, email: str) -> None:
        """A correct password: the account's failures are forgotten."""
        await self._redis.delete(_account_key(tenant_slug, email))
