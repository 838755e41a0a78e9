"""Which failures a worker answers 503 (retry later) instead of 500 (workers/dispatch.py)."""

from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi as dbapi
from sqlalchemy.exc import IntegrityError, InternalError

from workers.db_errors import is_transient


def test_the_driver_losing_its_protocol_stateis_transient() -> None:
    # What SQLAlchemy raises from a Core statement when asyncpg reports
    # InternalClientError (a session ended by the server mid-transaction), before the
    # connection is known to be closed: the caller may retry, it is not a 500.
    lost = dbapi.InternalClientError("cannot switch to state 12")  # type: ignore[no-untyped-call]
    assert is_transient(InternalError("SELECT 1", None, lost, connection_invalidated=False))


def test_an_error_reported_by_the_server_is_not_transient() -> None:
    server = Exception("XX000: internal error")  # what the server said, as the driver raised it
    assert not is_transient(InternalError("SELECT 1", None, server))
    assert not is_transient(IntegrityError("INSERT", None, Exception("23505: duplicate key")))


def test_an_invalidated_connection_is_transient_whatever_the_error() -> None:
    server = Exception("XX000: internal error")
    assert is_transient(InternalError("SELECT 1", None, server, connection_invalidated=True))
