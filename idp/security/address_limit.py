"""The per-address limit of SPEC 4.5, shared by the workers and the edge.

``IP_RATE_LIMIT_PER_MINUTE`` login, sign-up and reset requests per client address and
fixed one-minute window, counted in Redis (one Lua script, so every process sees one
count). The workers count every such request they serve, whoever published it
(workers/auth/throttle.py); the edge counts those it refuses itself before any worker
sees them (a body that is not JSON, or fails its contract), so that malformed requests
are limited like well-formed ones.

An IPv6 client is counted by its /64 (``bucket``), since one subscriber is routinely
given a whole /64 and could otherwise start a fresh count from each of its 2^64
addresses.
"""

import ipaddress
import math
from collections.abc import Callable

from redis.asyncio import Redis

# KEYS[1] window counter; ARGV window seconds. Returns the count in this window (shared
# with the throttle's per-account mail limit).
COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n
"""
WINDOW_SECONDS = 60
IPV6_PREFIX = 64
# The 429's message, from the edge or a worker alike.
LIMITED = "too many requests from this address; retry later"


def bucket(rate_key: str) -> str:
    """Whose count a request from ``rate_key`` adds to: an IPv6 address's /64 network;
    an IPv4-mapped IPv6 address's IPv4 address; anything else (an IPv4 address, a broker
    account, the shared bucket) as it is."""
    try:
        address = ipaddress.ip_address(rate_key)
    except ValueError:
        return rate_key
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class AddressLimit:
    def __init__(self, redis: "Redis", per_minute: int, clock: Callable[[], float]) -> None:
        self._count = redis.register_script(COUNT_SCRIPT)  # EVALSHA: the source goes once
        self._per_minute = per_minute
        self._clock = clock

    async def count(self, rate_key: str) -> int | None:
        """Count one request from ``rate_key``; past the limit, the seconds until the
        window ends (for ``Retry-After``), else None."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        key = f"idp:throttle:ip:{bucket(rate_key)}:{window}"
        count = int(await self._count(keys=[key], args=[WINDOW_SECONDS]))
        if count > self._per_minute:
            return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        return None
