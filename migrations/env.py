"""Alembic environment: async, run as the owner role (SPEC 6)."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from idp.settings import Settings, asyncpg_url

config = context.config


def _target() -> tuple[str, str]:
    url: str | None = config.attributes.get("url")
    app_role: str | None = config.attributes.get("app_role")
    if url is None or app_role is None:
        settings = Settings()
        url = url or settings.owner_database_url
        app_role = app_role or asyncpg_url(settings.database_url).username
    if app_role is None:
        raise SystemExit("DATABASE_URL names no user: the application role is unknown")
    return url, app_role


def _run(connection: Connection, app_role: str) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.get_context().opts["app_role"] = app_role
        context.run_migrations()


async def _main() -> None:
    url, app_role = _target()
    engine = create_async_engine(asyncpg_url(url))
    async with engine.connect() as connection:
        await connection.run_sync(_run, app_role)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: RLS policies need a live database")
asyncio.run(_main())
