"""Revocation records in Redis, checked on every authenticated request (SPEC 4.4).

An ended session's id is kept for as long as any access token of it can still be valid
(the access lifetime plus the clock leeway), so one key read per request tells whether a
token's session is over.

Redis may lose its data (a restart without persistence, a failover, a flush). The records
are then restored from PostgreSQL by the workers (``workers.revocation_sync``), which set
a marker key when Redis holds every record. Until the marker is there, authentication
fails closed: a lost record must never turn a revoked token back into a valid one. The
marker is read in the same round trip as the record.

Checks that arrive together share a round trip: every check started in one turn of the
event loop joins one ``MGET`` sent on the next turn (the marker plus each session's key),
pipelined with the commands checks add (a worker's role-cache reads). Each check still
reads Redis after it was asked, so the verdict is as fresh as a check of its own; under
load, one round trip serves tens of requests.
"""

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Check:
    key: str
    also: Callable[[Pipeline], None] | None
    future: "asyncio.Future[tuple[bool, list[Any]]]"
    extra: slice = field(default_factory=lambda: slice(0, 0))


class RevocationStore:
    def __init__(self, redis: "Redis", ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._waiting: list[_Check] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def is_revoked(self, session_id: UUID) -> bool:
        """Whether the session has ended (batched, see the module docstring)."""
        revoked, _ = await self._check(session_id, None)
        return revoked

    async def is_revoked_with(
        self, session_id: UUID, also: Callable[[Pipeline], None]
    ) -> tuple[bool, list[Any]]:
        """``is_revoked``, plus the commands ``also`` queues, in the same round trip.

        Returns the verdict and the results of ``also``'s commands.
        """
        return await self._check(session_id, also)

    async def _check(
        self, session_id: UUID, also: Callable[[Pipeline], None] | None
    ) -> tuple[bool, list[Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bool, list[Any]]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append(_Check(_key(session_id), also, future))
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _answer(self, batch: list[_Check]) -> None:
        """One MGET for every key of the batch (one pipeline when checks add commands)."""
        keys = list(dict.fromkeys(check.key for check in batch))
        try:
            if any(check.also is not None for check in batch):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.mget(READY_KEY, *keys)
                    for check in batch:
                        if check.also is not None:
                            first = len(pipe.command_stack)
                            check.also(pipe)
                            check.extra = slice(first, len(pipe.command_stack))
                    results = await pipe.execute()
            else:
                results = [await self._redis.mget(READY_KEY, *keys)]
        except (RedisError, OSError) as exc:
            _fail(batch, RevocationUnavailable(str(exc)))
            return
        except BaseException:  # cancelled: no waiter is left hanging
            _fail(batch, RevocationUnavailable("revocation check interrupted"))
            raise
        complete, *records = results[0]
        found = dict(zip(keys, records, strict=True))
        for check in batch:
            if check.future.done():  # its request was cancelled meanwhile
                continue
            try:
                verdict = _verdict(found[check.key], complete)
            except RevocationUnavailable as exc:
                check.future.set_exception(exc)
            else:
                check.future.set_result((verdict, results[check.extra]))

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


def _fail(batch: list[_Check], failure: RevocationUnavailable) -> None:
    for check in batch:
        if not check.future.done():
            check.future.set_exception(failure)


def _verdict(record: Any, complete: Any) -> bool:
    if complete is None:
        raise RevocationUnavailable("revocation records are being restored")
    return record is not None
