"""The Redis client the edge and the workers share the settings of.

redis-py's asyncio client keeps a pool of at most 100 connections and, with every one
busy, fails the next call at once (``MaxConnectionsError``). An audit sent 3,000
malformed logins at once to the edge, which counts each against its address in Redis:
2,899 of them, and 9 of 100 requests of signed-in users sharing the client, were 503.
This pool waits for a free connection instead, up to the same time a Redis call may
take, so a burst queues for a few milliseconds rather than failing.
"""

from typing import Final

from redis.asyncio import BlockingConnectionPool, Redis

POOL_SIZE: Final = 64
TIMEOUT_SECONDS: Final = 2.0


def connect(url: str, *, pool_size: int = POOL_SIZE) -> Redis:
    """A client on its own pool of ``pool_size`` connections, closed with the client."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
    return Redis.from_pool(pool)
