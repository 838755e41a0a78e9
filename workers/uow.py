"""The unit of work: one transaction, scoped to one tenant by RLS (SPEC 6).

The transaction is ours, not SQLAlchemy's: connections are checked out in AUTOCOMMIT
mode (so SQLAlchemy issues no BEGIN/COMMIT of its own) and the unit of work sends
``BEGIN`` together with the tenant's ``set_config`` in one simple-protocol round trip,
then ``COMMIT`` or ``ROLLBACK``. Repositories run Core statements on ``connection`` and
the hottest paths plain SQL on the same connection through ``fetch``/``fetchrow``/
``execute`` (asyncpg, no SQLAlchemy layers); both are inside the same transaction.
Audit entries and outbox events are buffered (``journal``) and written in one
statement just before the commit.

A connection that could not be brought back to a clean state (a failed ROLLBACK, a
cancelled COMMIT) is invalidated, never returned to the pool with a transaction open;
a connection found dead also disposes of the pool, so a PostgreSQL restart costs one
failed request per worker, not one per pooled connection.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from idp.settings import Settings, asyncpg_dsn, asyncpg_url
from workers.db_errors import as_dbapi_error, is_disconnect
from workers.errors import DeadlinePassed

T = TypeVar("T")
# The transaction of the message being served, when it must be one transaction from
# start to reply (see ``Database.message_transaction``). Each message runs in its own task.
_MESSAGE_UOW: ContextVar["UnitOfWork | None"] = ContextVar("idp_message_uow", default=None)
# When the message being handled must have committed by (epoch seconds): past it, its
# caller has been answered 504 (or is about to be), so a commit would apply a write
# reported as failed. Set by the dispatcher for each message (workers/dispatch.py).
COMMIT_DEADLINE: ContextVar[float | None] = ContextVar("idp_commit_deadline", default=None)


def must_commit() -> None:
    """The message is about to do what no rollback undoes (a revocation in Redis, an
    object written or deleted on S3): from here on its transaction commits whatever the
    time, so that a 504 still means nothing was applied, never half of it."""
    COMMIT_DEADLINE.set(None)


_SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"
# Audit entries and outbox events of one transaction, in one round trip.
_FLUSH_JOURNAL = """
WITH audit AS (
    INSERT INTO audit_log
        (id, tenant_id, actor_id, action, target_type, target_id, data, request_id, ip)
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
        $7::jsonb[], $8::text[], $9::text[])
)
INSERT INTO outbox (id, tenant_id, event_type, body)
SELECT * FROM unnest($10::uuid[], $11::uuid[], $12::text[], $13::jsonb[])
"""


def _begin(tenant_id: UUID | None) -> str:
    # A UUID's text is hex digits and dashes only, so it can be written into the
    # statement: that is what lets BEGIN and set_config share one simple-protocol query.
    tenant = str(UUID(str(tenant_id))) if tenant_id is not None else ""
    return f"BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true)"


class UnitOfWork:
    """An open transaction. Repositories run their SQL on it; none commits."""

    def __init__(self, database: "Database", connection: AsyncConnection, driver: Any) -> None:
        self.connection = connection  # SQLAlchemy Core statements
        self._driver: asyncpg.Connection = driver  # the same connection, plain SQL
        self._database = database
        self.tenant_id: UUID | None = None
        self.broken = False  # a statement found the connection dead
        self._audit: list[tuple[Any, ...]] = []
        self._events: list[tuple[Any, ...]] = []
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` once this transaction has committed: after the message's whole
        transaction when it joins one (``message_transaction``), never if it rolls back.
        For what must not happen earlier, such as the last invalidation of a cache that
        readers refill from the committed rows."""
        self._after_commit.append(action)

    async def bind_tenant(self, tenant_id: UUID) -> None:
        """Scope every later statement of this transaction to ``tenant_id``."""
        await self.execute(_SET_TENANT, str(tenant_id))
        self.tenant_id = tenant_id

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._call(self._driver.fetch, sql, args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._call(self._driver.fetchrow, sql, args)
        return row

    async def execute(self, sql: str, *args: Any) -> str:
        status: str = await self._call(self._driver.execute, sql, args)
        return status

    async def rollback(self) -> bool:
        """Roll back; False when the connection cannot say (it is then invalidated)."""
        try:
            await self._driver.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - whatever it was, the connection is not trusted
            return False
        return True

    def journal_audit(self, row: tuple[Any, ...]) -> None:
        """Queue an audit row (see ``_FLUSH_JOURNAL`` for the columns)."""
        self._audit.append(row)

    def journal_event(self, row: tuple[Any, ...]) -> None:
        """Queue an outbox row (id, tenant_id, event_type, body)."""
        self._events.append(row)

    async def flush_journal(self) -> None:
        if not self._audit and not self._events:
            return
        audit, events = self._audit, self._events
        self._audit, self._events = [], []
        await self.execute(
            _FLUSH_JOURNAL,
            *_columns(audit, 9, json_columns=(6,)),
            *_columns(events, 4, json_columns=(3,)),
        )

    async def _call(self, method: Callable[..., Awaitable[T]], sql: str, args: Sequence[Any]) -> T:
        try:
            return await method(sql, *args)
        except Exception as error:
            translated = self._database.translate(self, sql, error)
            if translated is error:
                raise
            raise translated from error


def _columns(
    rows: list[tuple[Any, ...]], width: int, json_columns: tuple[int, ...]
) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for index, value in enumerate(row):
            columns[index].append(orjson.dumps(value).decode() if index in json_columns else value)
    return columns


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """json and jsonb as Python values, as SQLAlchemy's asyncpg dialect sets them up."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog"
        )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _terminate(driver: asyncpg.Connection) -> None:
    """Close a connection that cannot be trusted, if its pool has not let go of it yet."""
    with contextlib.suppress(asyncpg.InterfaceError):  # already released: already closed
        if not driver.is_closed():
            driver.terminate()


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    """The statement pool's connections carry no session state: each statement is its own
    transaction, and the tenant it binds is transaction-local (``set_config(..., true)``).
    asyncpg's default reset would cost a round trip per statement."""


class Database:
    """Transactions on SQLAlchemy's pool; single statements on a plain asyncpg pool.

    Twice ``DB_POOL_SIZE`` connections for transactions and half of it (at least 2) for
    single statements (``fetch_alone``: ``auth.me``, login's lookup, the users page, a refresh's
    read and rotation), which hold a connection for one round trip and need neither
    SQLAlchemy's checkout machinery nor its Core layer: skipping them takes ~13% off the
    worker's CPU per ``auth.me`` (docs/performance.md)."""

    def __init__(self, engine: AsyncEngine, dsn: str, pool_size: int) -> None:
        self.engine = engine
        self._dsn = dsn
        self._pool_size = pool_size
        self._statements: asyncpg.Pool | None = None
        self._statements_lock = asyncio.Lock()

    @classmethod
    def connect(cls, settings: Settings) -> "Database":
        engine = create_async_engine(
            asyncpg_url(settings.database_url),
            # The same cap as DB_POOL_SIZE plus as many "overflow" connections, all kept:
            # SQLAlchemy closes an overflow connection as soon as it is returned, so under
            # load (prefetch 64 > pool) every other transaction paid a new connection.
            # (With half as many, a PostgreSQL restart left more writes queued for a
            # connection past their budget: 504 instead of 503.)
            pool_size=2 * settings.db_pool_size,
            max_overflow=0,
            # No ping per checkout (a round trip per transaction): a dead connection fails
            # its request with 503 and the pool is then disposed of (see ``translate``).
            pool_recycle=1800,
            # The unit of work sends BEGIN/COMMIT itself (module docstring).
            isolation_level="AUTOCOMMIT",
            # Errors carry the statement but never its parameters (password and token
            # hashes, grace blobs): logs hold no secret (SPEC 8).
            hide_parameters=True,
        )
        return cls(engine, asyncpg_dsn(settings.database_url), max(2, settings.db_pool_size // 2))

    async def _statement_pool(self) -> asyncpg.Pool:
        if self._statements is None:
            async with self._statements_lock:
                if self._statements is None:
                    self._statements = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._pool_size,
                        init=_json_codecs,
                        reset=_nothing_to_reset,
                    )
        return self._statements

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID | None = None) -> AsyncIterator[UnitOfWork]:
        """Commit when the block ends normally, roll back when it raises.

        Inside ``message_transaction`` this joins that transaction instead of opening one,
        so everything a message does commits (or not) together with its idempotency record.
        """
        joined = _MESSAGE_UOW.get()
        if joined is not None:
            if tenant_id is not None and tenant_id != joined.tenant_id:
                raise RuntimeError("a message transaction cannot switch tenants")
            yield joined
            return
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            uow = UnitOfWork(self, connection, raw.driver_connection)
            settled = False
            try:
                await uow.execute(_begin(tenant_id))  # no arguments: the simple protocol
                uow.tenant_id = tenant_id
                try:
                    yield uow
                    await uow.flush_journal()
                    deadline = COMMIT_DEADLINE.get()
                    if deadline is not None and time.time() > deadline:
                        raise DeadlinePassed(
                            "the request's deadline passed before its changes were "
                            "committed; nothing was applied"
                        )
                except BaseException:
                    if not uow.broken:
                        settled = await uow.rollback()
                    raise
                await uow.execute("COMMIT")
                settled = True
            finally:
                await self._discard_if_broken(uow, connection, settled=settled)
        for action in uow._after_commit:
            await action()

    async def fetch_alone(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """One statement in a transaction of its own (no BEGIN/COMMIT round trips): for
        a definer or self-scoping function such as ``idp_login_account``."""
        try:
            pool = await self._statement_pool()
            async with pool.acquire() as driver:
                try:
                    rows: list[asyncpg.Record] = await driver.fetch(sql, *args)
                except Exception as error:
                    if is_disconnect(error):
                        _terminate(driver)  # its pool replaces a closed connection
                        await self._discard_pools()
                    raise
                return rows
        except Exception as error:
            lost = is_disconnect(error)
            translated = as_dbapi_error(
                self.engine.dialect, sql, error, connection_invalidated=lost
            )
            if translated is error:
                raise
            raise translated from error

    @asynccontextmanager
    async def message_transaction(self, tenant_id: UUID) -> AsyncIterator[UnitOfWork]:
        """One transaction for a whole message: every ``transaction()`` inside joins it."""
        async with self.transaction(tenant_id) as uow:
            token = _MESSAGE_UOW.set(uow)
            try:
                yield uow
            finally:
                _MESSAGE_UOW.reset(token)

    async def _discard_if_broken(
        self, uow: UnitOfWork, connection: AsyncConnection, *, settled: bool
    ) -> None:
        if not settled:
            # Never hand a connection with a transaction open back to the pool.
            await connection.invalidate()
        if uow.broken:
            await self._discard_pools()

    async def _discard_pools(self) -> None:
        """Every pooled connection is probably as dead (a restart): start afresh."""
        await self.engine.dispose()
        if self._statements is not None:
            await self._statements.expire_connections()

    def translate(self, uow: UnitOfWork, sql: str, error: Exception) -> Exception:
        """An asyncpg error as the SQLAlchemy exception the rest of the worker expects."""
        if is_disconnect(error) or uow._driver.is_closed():
            uow.broken = True
        return as_dbapi_error(self.engine.dialect, sql, error, connection_invalidated=uow.broken)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._statements is not None:
            await self._statements.close()
