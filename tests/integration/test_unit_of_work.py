"""The unit of work's own transactions: what happens when a connection dies or a task is
cancelled inside one (workers/uow.py)."""

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from idp.settings import Settings, asyncpg_dsn
from workers.db_errors import is_transient
from workers.uow import Database


@pytest.fixture
async def killer(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the application role, which may end that role's other sessions."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    yield connection
    await connection.close()


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
    assert is_transient(raised.value)  # the caller gets 503, not 500
    # The next transactions get working connections (the pool was started afresh).
    for _ in range(3):
        assert await _tenant_setting(db) == ""


@pytest.mark.parametrize("pause", [0.0, 0.0005, 0.001, 0.005])
async def test_a_session_ended_by_the_server_mid_transaction_is_transient_and_not_reused(
    db: Database, killer: asyncpg.Connection, pause: float
) -> None:
    """What a PostgreSQL restart does to transactions in flight, from outside them.

    How long the client takes to notice decides which error asyncpg raises on the next
    statement: "connection does not exist", "connection is closed", or (found by the
    PostgreSQL-restart fault test, which then answered 500 and dead-lettered writes)
    ``InternalClientError``, its protocol state lost half-way through looking up the
    journal statement's array types. Every one of them must be a 503-class error, and
    the connection must not go back to the pool."""

    async def ended_under_us() -> None:
        async with db.transaction(uuid.uuid4()) as uow:
            row = await uow.fetchrow("SELECT pg_backend_pid() AS pid")
            assert row is not None
            # Returns once the backend has exited (timeout in ms).
            ended = await killer.fetchval("SELECT pg_terminate_backend($1, 5000)", row["pid"])
            assert ended is True
            await asyncio.sleep(pause)
            uow.journal_event((uuid.uuid4(), uow.tenant_id, "test.ended", {"n": 1}))

    for _ in range(3):
        with pytest.raises(DBAPIError) as raised:
            await ended_under_us()
        assert raised.value.connection_invalidated
        assert is_transient(raised.value)  # the caller gets 503 and may retry
        assert raised.value.__cause__ is not raised.value
        # The next transaction gets a working, clean connection.
        assert await _tenant_setting(db) == ""


async def test_a_single_statement_whose_session_is_ended_is_transient_and_not_reused(
    db: Database, killer: asyncpg.Connection
) -> None:
    """``fetch_alone`` runs on its own asyncpg pool. A session the server ends while idle
    is replaced before its next use; one ended under a running statement fails that
    call with a 503-class error, and the calls after it get working connections."""
    marker = f"ended-{uuid.uuid4().hex}"
    # Ended while idle: the pool notices and connects afresh.
    (row,) = await db.fetch_alone("SELECT pg_backend_pid() AS pid")
    assert await killer.fetchval("SELECT pg_terminate_backend($1, 5000)", row["pid"])
    (one,) = await db.fetch_alone("SELECT 1 AS one")
    assert one["one"] == 1
    # Ended under a running statement.
    running = asyncio.create_task(db.fetch_alone(f"SELECT pg_sleep(5), '{marker}'"))
    pid = None
    for _ in range(100):
        pid = await killer.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            f"%{marker}%",
        )
        if pid is not None:
            break
        await asyncio.sleep(0.02)
    assert pid is not None, "the statement never started"
    assert await killer.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    with pytest.raises(DBAPIError) as raised:
        await running
    assert raised.value.connection_invalidated
    assert is_transient(raised.value)
    for _ in range(3):
        (again,) = await db.fetch_alone("SELECT 1 AS one")
        assert again["one"] == 1


async def test_a_cancelled_single_statement_leaves_no_tenant_on_its_pooled_connection(
    db: Database,
) -> None:
    """The statement pool skips the reset between uses; what makes that safe is that a
    statement's tenant binding is local to its own implicit transaction, which ends with
    it, also when the statement is cancelled half-way."""
    tenant = str(uuid.uuid4())
    running = asyncio.create_task(
        db.fetch_alone("SELECT set_config('app.tenant_id', $1, true), pg_sleep(5)", tenant)
    )
    await asyncio.sleep(0.2)  # bound and sleeping on the server
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    for _ in range(5):  # the pool hands the most recently released connection out first
        (row,) = await db.fetch_alone(
            "SELECT current_setting('app.tenant_id', true) AS t,"
            " statement_timestamp() - now() < interval '100 ms' AS own"
        )
        assert row["t"] in ("", None)
        # A transaction of its own: one left open by the cancelled statement would have
        # started (now()) at least 200 ms before this statement.
        assert row["own"] is True


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


async def test_a_failed_statement_error_names_no_parameter(db: Database) -> None:
    """Errors reach the logs (``repr`` of transient ones, tracebacks of the rest): they
    must carry the statement but never its values, which may be hashes or grace blobs."""
    secret = f"s3cret-{uuid.uuid4().hex}"
    with pytest.raises(DBAPIError) as failed:
        async with db.transaction() as uow:
            await uow.connection.execute(
                text("SELECT CAST(:secret AS text), 1 / 0"), {"secret": secret}
            )
    assert "division by zero" in str(failed.value)
    assert secret not in str(failed.value)
    assert secret not in repr(failed.value)


@pytest.fixture
async def shutting_down_server() -> AsyncIterator[int]:
    """A socket that answers every connection as PostgreSQL does while it shuts down or
    starts up: an ErrorResponse with SQLSTATE 57P03 in place of authentication."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code == _SSL_REQUEST:
                writer.write(b"N")  # no TLS: the client goes on in plain text
                length, code = struct.unpack("!ii", await reader.readexactly(8))
            await reader.readexactly(length - 8)  # the startup parameters
            fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is shutting down\0\0"
            writer.write(b"E" + struct.pack("!i", 4 + len(fields)) + fields)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


_SSL_REQUEST = 80877103


async def test_a_database_refusing_new_connections_while_it_restartsis_transient(
    settings: Settings, shutting_down_server: int
) -> None:
    """Found by the PostgreSQL-restart fault test: while the server shuts down, a new
    connection is refused with 57P03, which SQLAlchemy raises as a bare ``DBAPIError``.
    The caller must get 503 (retry later), not a redelivery ending in 500."""
    url = f"postgresql://idp_app:idp_app@127.0.0.1:{shutting_down_server}/idp_test"
    db = Database.connect(settings.model_copy(update={"database_url": url}))
    try:
        with pytest.raises(DBAPIError, match="shutting down") as in_transaction:
            async with db.transaction(uuid.uuid4()) as uow:
                await uow.fetchrow("SELECT 1")
        assert is_transient(in_transaction.value)
        with pytest.raises(DBAPIError, match="shutting down") as alone:
            await db.fetch_alone("SELECT 1")
        assert is_transient(alone.value)
    finally:
        await db.close()
