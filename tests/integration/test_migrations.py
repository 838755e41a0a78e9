"""Every revision applies, and undoes itself, on a database of its own: upgrade to the
heads, downgrade to nothing, upgrade again. An operator rolling back one release runs
the same downgrades."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command

from idp.bootstrap import alembic_config, migrate
from idp.settings import Settings, asyncpg_dsn


def _in_database(settings: Settings, url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


@pytest.fixture
async def scratch(settings: Settings) -> AsyncIterator[Settings]:
    database = f"idp_migrations_{uuid.uuid4().hex[:10]}"
    scratch = settings.model_copy(
        update={
            "database_url": _in_database(settings, settings.database_url, database),
            "database_owner_url": _in_database(settings, settings.owner_database_url, database),
        }
    )
    try:
        yield scratch
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(settings.admin_database_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


async def _outbox_columns(settings: Settings) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'"
        )
    finally:
        await conn.close()
    return {row["column_name"] for row in rows}


async def test_every_revision_upgrades_downgrades_and_upgrades_again(scratch: Settings) -> None:
    await migrate(scratch)
    assert await _outbox_columns(scratch) == {"id", "tenant_id", "event_type", "body", "created_at"}
    config = alembic_config(scratch)
    await asyncio.to_thread(command.downgrade, config, "0014")
    assert "published_at" in await _outbox_columns(scratch)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _outbox_columns(scratch) == set()
    await migrate(scratch)
    assert "published_at" not in await _outbox_columns(scratch)
