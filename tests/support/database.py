"""Reading the database around the application, as tests that check what was stored do."""

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from idp.settings import Settings, asyncpg_dsn


@contextlib.asynccontextmanager
async def as_owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner role, which row-level security does not restrict: every
    tenant's rows, as a database reader (or a backup) would see them."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        yield connection
    finally:
        await connection.close()
