"""Periodic housekeeping in the worker: jobs that keep tables from growing without bound."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aio_pika.abc import AbstractChannel
from sqlalchemy import text

from contracts.actions import family_queue
from workers.metrics import WorkerMetrics
from workers.uow import Database

log = logging.getLogger("idp.maintenance")
# What each prune removes: rows older than a day (migration 0014 says why a day).
_PRUNES = {
    "processed_messages": text("SELECT idp_processed_messages_prune(:before)"),
    "sessions": text("SELECT idp_sessions_prune(:before)"),
    "one_time_tokens": text("SELECT idp_one_time_tokens_prune(:before)"),
}
RETENTION = timedelta(hours=24)


class Periodic:
    """Run ``job`` every ``interval`` seconds until stopped; a failing run is logged, not fatal."""

    def __init__(self, name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._interval = interval
        self._job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self._job()
            except Exception as exc:  # noqa: BLE001 - housekeeping retries on its next run
                log.warning("%s failed", self.name, extra={"error": repr(exc)[:300]})
            await asyncio.sleep(self._interval)


async def prune(db: Database, now: datetime | None = None) -> dict[str, int]:
    """Forget what ended more than a day ago: idempotency records, ended sessions (revoked
    or past their end), and used or expired one-time tokens. Rows removed, by table."""
    before = (now or datetime.now(UTC)) - RETENTION
    pruned: dict[str, int] = {}
    for table, statement in _PRUNES.items():
        async with db.transaction() as uow:
            result = await uow.connection.execute(statement, {"before": before})
            pruned[table] = result.scalar_one()
    if any(pruned.values()):
        log.info("ended rows pruned", extra={"pruned": pruned})
    return pruned


_BACKLOG = text("SELECT idp_outbox_backlog()")


async def sample_gauges(
    db: Database, metrics: WorkerMetrics, channel: AbstractChannel, families: tuple[str, ...]
) -> None:
    """Outbox backlog and request queue depths, for the metrics endpoint."""
    async with db.transaction() as uow:
        metrics.outbox_backlog.set((await uow.connection.execute(_BACKLOG)).scalar_one())
    for family in families:
        queue = await channel.declare_queue(family_queue(family), passive=True)
        metrics.queue_depth.labels(family_queue(family)).set(
            queue.declaration_result.message_count or 0
        )
