"""Revocation records in Redis, checked on every authenticated request (SPEC 4.4).

An ended session's id is kept for as long as any access token of it can still be valid
(the access lifetime plus the clock leeway), so one key read per request tells whether a
token's session is over.
"""

from collections.abc import Iterable
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError


class RevocationUnavailable(Exception):
    """Redis could not answer: authentication fails closed (503), never open."""


def _key(session_id: UUID) -> str:
    return f"idp:revoked:session:{session_id}"


class RevocationStore:
    def __init__(self, redis: "Redis", ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def is_revoked(self, session_id: UUID) -> bool:
        try:
            return bool(await self._redis.exists(_key(session_id)))
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc

    async def revoke(self, session_ids: Iterable[UUID]) -> None:
        ids = list(session_ids)
        if not ids:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for sid in ids:
                    pipe.set(_key(sid), b"1", ex=self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc
