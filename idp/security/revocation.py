"""Revocation records in Redis, checked on every authenticated request (SPEC 4.4).

An ended session's id is kept for as long as any access token of it can still be valid
(the access lifetime plus the clock leeway), so one key read per request tells whether a
token's session is over.

Redis may lose its data (a restart without persistence, a failover, a flush). The records
are then restored from PostgreSQL by the workers (``workers.revocation_sync``), which set
a marker key when Redis holds every record. Until the marker is there, authentication
fails closed: a lost record must never turn a revoked token back into a valid one. The
marker is read in the same round trip as the record.

Checks that arrive together share a round trip: every ``is_revoked`` started in one turn
of the event loop joins one ``MGET`` sent on the next turn (the marker plus each session's
key). Each check still reads Redis after it was asked, so the verdict is as fresh as a
check of its own; under load, one round trip serves tens of requests.
"""

import asyncio
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError


class RevocationUnavailable(Exception):
    """Redis could not answer: authentication fails closed (503), never open."""


READY_KEY = "idp:revocations:complete"


def _key(session_id: UUID) -> str:
    return f"idp:revoked:session:{session_id}"


class RevocationStore:
    def __init__(self, redis: "Redis", ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._waiting: list[tuple[str, asyncio.Future[bool]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def is_revoked(self, session_id: UUID) -> bool:
        """Whether the session has ended (one batched MGET, see the module docstring)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((_key(session_id), future))
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _answer(self, batch: list[tuple[str, "asyncio.Future[bool]"]]) -> None:
        keys = list(dict.fromkeys(key for key, _ in batch))
        try:
            complete, *records = await self._redis.mget(READY_KEY, *keys)
        except BaseException as exc:  # answer every waiter, whatever happened
            failure = (
                RevocationUnavailable(str(exc))
                if isinstance(exc, RedisError | OSError)
                else RevocationUnavailable("revocation check interrupted")
            )
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            if isinstance(exc, RedisError | OSError):
                return
            raise
        found = dict(zip(keys, records, strict=True))
        for key, future in batch:
            if future.done():  # its request was cancelled meanwhile
                continue
            try:
                future.set_result(_verdict(found[key], complete))
            except RevocationUnavailable as exc:
                future.set_exception(exc)

    async def is_revoked_with(
        self, session_id: UUID, also: Callable[[Pipeline], None]
    ) -> tuple[bool, list[Any]]:
        """``is_revoked``, plus the commands ``also`` queues, in the same round trip.

        Returns the verdict and the results of ``also``'s commands.
        """
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.mget(_key(session_id), READY_KEY)
                also(pipe)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc
        record, complete = results[0]
        return _verdict(record, complete), results[1:]

    async def is_complete(self) -> bool:
        return bool(await self._redis.exists(READY_KEY))

    async def restore(self, records: Iterable[tuple[UUID, float]]) -> None:
        """Write back records (session id, seconds left) and mark the set complete."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid, seconds_left in records:
                if seconds_left >= 1:
                    pipe.set(_key(sid), b"1", ex=int(seconds_left))
            pipe.set(READY_KEY, b"1")
            await pipe.execute()

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


def _verdict(record: Any, complete: Any) -> bool:
    if complete is None:
        raise RevocationUnavailable("revocation records are being restored")
    return record is not None
