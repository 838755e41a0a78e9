"""What a failure says about the worker's dependencies: a PostgreSQL or Redis that is
away (503, gone on retry) as against an error of the request or of the code."""

from typing import Any

import asyncpg
from redis.exceptions import RedisError
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from idp.security.revocation import RevocationUnavailable

# asyncpg's InternalClientError as SQLAlchemy wraps it: the driver lost its protocol
# state, as when the server ends a session mid-transaction (a restart). Not the caller's
# fault and gone once the connection is replaced, so a 503, never a 500 (workers/uow.py).
_DRIVER_LOST_TRACK = AsyncAdapt_asyncpg_dbapi.InternalClientError


def is_disconnect(error: BaseException) -> bool:
    return isinstance(
        error,
        (
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.AdminShutdownError,
            asyncpg.exceptions.CannotConnectNowError,
            # The driver lost track of its protocol: seen when the server ends a session
            # while a transaction is open on it (a restart), so the next statement finds
            # the connection half-closed (MagicStack/asyncpg#1069, sqlalchemy#13241).
            asyncpg.exceptions.InternalClientError,
            OSError,  # ConnectionError included
        ),
    )


# SQLSTATE classes that say the server cannot serve now, not that the statement is wrong:
# 08 connection exception, 40 transaction rollback (a deadlock or serialization failure:
# the same request again succeeds), 53 insufficient resources (too many connections), 57
# operator intervention (shutting down, starting up, terminated by an administrator).
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57"})


def database_unavailable(error: BaseException) -> bool:
    """Whether this error, or one it was raised from, says the database is away.

    A new connection refused while PostgreSQL shuts down or starts up arrives wrapped
    twice (SQLAlchemy's ``DBAPIError`` from its adapter's error from asyncpg's
    ``CannotConnectNowError``), so the chain is followed, a few links at most."""
    current: BaseException | None = error
    for _ in range(6):
        if current is None:
            return False
        if is_disconnect(current):
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state[:2] in _UNAVAILABLE_CLASSES:
            return True
        current = current.__cause__
    return False


def is_transient(exc: BaseException) -> bool:
    """A dependency away (PostgreSQL, Redis), not the request's fault: 503, retry later."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, _DRIVER_LOST_TRACK)
    ):
        return True
    if isinstance(exc, (RedisError, RevocationUnavailable, ConnectionError, TimeoutError)):
        return True
    return database_unavailable(exc)


def as_dbapi_error(
    dialect: Dialect, sql: str, error: Exception, *, connection_invalidated: bool
) -> Exception:
    """An asyncpg error as the SQLAlchemy exception the rest of the worker expects (the
    translation SQLAlchemy's asyncpg adapter applies to its own statements); any other
    error as it is."""
    original: Exception = error
    if not isinstance(
        error,
        asyncpg.exceptions.PostgresError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.InternalClientError,
    ):
        return original
    dbapi: Any = dialect.loaded_dbapi
    mapping = dbapi._asyncpg_error_translate
    for kind in type(error).__mro__:
        if kind in mapping:
            translated = mapping[kind](error.args[0] if error.args else str(error), error)
            wrapped: Exception = DBAPIError.instance(
                sql,
                None,
                translated,
                dbapi.Error,
                connection_invalidated=connection_invalidated,
                dialect=dialect,
            )
            return wrapped
    return original
