"""The shared Redis client queues a burst for a free connection instead of failing it."""

import asyncio
import uuid

from idp import redis_pool
from idp.settings import Settings


async def test_a_burst_larger_than_the_pool_waits_for_connections(settings: Settings) -> None:
    """redis-py's own pool failed every call past its 100 connections at once: 2,899 of
    3,000 malformed logins sent to the edge together were 503, and so were some
    requests of signed-in users sharing the client."""
    client = redis_pool.connect(settings.redis_url, pool_size=4)
    key = f"idp:test:pool:{uuid.uuid4().hex}"
    try:
        counts = await asyncio.gather(*(client.incr(key) for _ in range(400)))
        assert sorted(counts) == list(range(1, 401))
        assert client.connection_pool.max_connections == 4
    finally:
        await client.delete(key)
        await client.aclose()
