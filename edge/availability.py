"""Whether a family has a worker: 503 at once when none does, not 504 after the budget.

SPEC 4 answers 503 when "no worker is available". A request queue outlives its
workers, so a request published while none consumes it would wait out its whole budget
and end as 504, or worse, be applied later by a worker that comes back after the caller
was told it failed. The edge therefore does not publish to a queue it knows to have no
consumer.

What it knows comes from the queue's consumer count (``Requester.queue_counts``, a
passive declare), never a broker round trip per request:

- seen with a consumer less than ``FRESH_SECONDS`` ago: go ahead;
- seen without one less than ``RECHECK_SECONDS`` ago: 503;
- otherwise look now. One look per queue at a time, shared by the requests that arrive
  meanwhile: under load, one look (a millisecond or so) per family per second. So a
  family whose workers all stopped turns to 503 within ``FRESH_SECONDS`` (requests
  published before that wait for a worker or their budget), and the first requests
  after a worker starts are not refused on stale knowledge.

A worker killed while a request is in flight is a different case (SPEC 7): its request
is redelivered, and the caller gets the answer or 504.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contracts.actions import family_queue
from edge.requester import RpcUnavailable

log = logging.getLogger("idp.edge.rpc")
FRESH_SECONDS = 1.0
RECHECK_SECONDS = 0.1
LOOK_SECONDS = 2.0  # at most, and never longer than a request's budget


@dataclass(slots=True)
class _Seen:
    at: float
    consumers: int


class QueueCounts(Protocol):
    async def queue_counts(self, queue: str) -> tuple[int, int]:
        """A queue's ready messages and consumers (``edge.requester.Requester``)."""
        ...


class WorkerPresence:
    def __init__(
        self,
        requester: QueueCounts,
        budget: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requester = requester
        self._clock = clock
        # A broker that does not answer must not hold requests past their budget (SPEC 7).
        self._look_seconds = min(LOOK_SECONDS, budget)
        self._seen: dict[str, _Seen] = {}
        self._looking: dict[str, asyncio.Task[int]] = {}

    async def available(self, family: str) -> bool:
        """False only when ``family``'s queue was just seen with no consumer."""
        queue = family_queue(family)
        seen = self._seen.get(queue)
        now = self._clock()
        if seen is not None:
            age = now - seen.at
            if seen.consumers > 0 and age < FRESH_SECONDS:
                return True
            if seen.consumers == 0 and age < RECHECK_SECONDS:
                return False
        return await self._look(queue) > 0

    def _look(self, queue: str) -> "asyncio.Task[int]":
        task = self._looking.get(queue)
        if task is None:
            task = asyncio.create_task(self._count(queue), name=f"consumers-{queue}")
            self._looking[queue] = task
            task.add_done_callback(lambda _: self._looking.pop(queue, None))
        return task

    async def _count(self, queue: str) -> int:
        try:
            async with asyncio.timeout(self._look_seconds):
                _, consumers = await self._requester.queue_counts(queue)
        except (RpcUnavailable, TimeoutError):
            # The broker itself is away or stuck: publishing would fail or wait out the
            # budget. Forget what was seen, so the next request looks again.
            self._seen.pop(queue, None)
            return 0
        previous = self._seen.get(queue)
        if previous is not None and (previous.consumers > 0) != (consumers > 0):
            level = logging.INFO if consumers else logging.WARNING
            log.log(level, "workers of a family", extra={"queue": queue, "consumers": consumers})
        self._seen[queue] = _Seen(self._clock(), consumers)
        return consumers

    async def close(self) -> None:
        for task in list(self._looking.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
