"""The unit of work's own transactions: what happens when a connection dies or a task is
cancelled inside one (workers/uow.py)."""

import asyncio
import uuid

import pytest
from sqlalchemy.exc import DBAPIError

from workers.dispatch import _is_transient
from workers.uow import Database


async def _tenant_setting(db: Database) -> str | None:
    async with db.transaction() as uow:
        row = await uow.fetchrow("SELECT current_setting('app.tenant_id', true) AS t")
        assert row is not None
        value: str | None = row["t"]
        return value


async def test_a_connection_dying_mid_transaction_is_a_transient_error_and_is_not_reused(
    db: Database,
) -> None:
    async def doomed() -> None:
        async with db.transaction(uuid.uuid4()) as uow:
            # The backend ends itself: every later statement on it fails.
            await uow.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            await uow.fetchrow("SELECT 1")

    with pytest.raises(DBAPIError) as raised:
        await doomed()
    assert raised.value.connection_invalidated
    assert _is_transient(raised.value)  # the caller gets 503, not 500
    # The next transactions get working connections (the pool was started afresh).
    for _ in range(3):
        assert await _tenant_setting(db) == ""


async def test_a_cancelled_transaction_rolls_back_and_leaves_no_transaction_open(
    db: Database,
) -> None:
    tenant = uuid.uuid4()
    entered = asyncio.Event()

    async def stuck() -> None:
        async with db.transaction(tenant) as uow:
            await uow.fetchrow("SELECT 1")
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Whichever pooled connection comes next is clean: no open transaction, no tenant.
    for _ in range(5):
        assert await _tenant_setting(db) == ""
        async with db.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            assert not driver.is_in_transaction()


async def test_the_tenant_binding_ends_with_its_transaction(db: Database) -> None:
    tenant = uuid.uuid4()
    async with db.transaction(tenant) as uow:
        row = await uow.fetchrow("SELECT current_setting('app.tenant_id', true) AS t")
        assert row is not None
        assert row["t"] == str(tenant)
    assert await _tenant_setting(db) == ""
