"""The unit of work: one transaction, scoped to one tenant by RLS (SPEC 6)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from idp.settings import Settings, asyncpg_url

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")
# The transaction of the message being served, when it must be one transaction from
# start to reply (see ``Database.message_transaction``). Each message runs in its own task.
_MESSAGE_UOW: ContextVar["UnitOfWork | None"] = ContextVar("idp_message_uow", default=None)


class UnitOfWork:
    """An open transaction. Repositories run their SQL on ``connection``; none commits."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.tenant_id: UUID | None = None

    async def bind_tenant(self, tenant_id: UUID) -> None:
        """Scope every later statement of this transaction to ``tenant_id``."""
        await self.connection.execute(_SET_TENANT, {"tenant": str(tenant_id)})
        self.tenant_id = tenant_id


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, settings: Settings) -> "Database":
        engine = create_async_engine(
            asyncpg_url(settings.database_url),
            # The same cap as DB_POOL_SIZE plus as many "overflow" connections, all kept:
            # SQLAlchemy closes an overflow connection as soon as it is returned, so under
            # load (prefetch 64 > pool) every other transaction paid a new connection.
            pool_size=2 * settings.db_pool_size,
            max_overflow=0,
            # No ping per checkout (a round trip per transaction): a connection found dead
            # fails its request with 503 and SQLAlchemy then invalidates the whole pool,
            # so a PostgreSQL restart costs one failed request per worker, not one per
            # pooled connection (tests/faults/test_service_outages.py).
            pool_recycle=1800,
        )
        return cls(engine)

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
        async with self.engine.begin() as connection:
            uow = UnitOfWork(connection)
            if tenant_id is not None:
                await uow.bind_tenant(tenant_id)
            yield uow

    @asynccontextmanager
    async def message_transaction(self, tenant_id: UUID) -> AsyncIterator[UnitOfWork]:
        """One transaction for a whole message: every ``transaction()`` inside joins it."""
        async with self.transaction(tenant_id) as uow:
            token = _MESSAGE_UOW.set(uow)
            try:
                yield uow
            finally:
                _MESSAGE_UOW.reset(token)

    async def close(self) -> None:
        await self.engine.dispose()
