"""Reachability checks that turn a dead service into one clear line (SPEC 2)."""

import asyncio
import logging
from collections.abc import Awaitable
from urllib.parse import unquote, urlsplit, urlunsplit

import aio_pika
import aiormq
import asyncpg
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ResponseError

HOW_TO_START = {
    "PostgreSQL": "start it (`pg_ctlcluster 15 main start`) or `docker compose up -d postgres`",
    "Redis": "start it (`redis-server --daemonize yes`) or `docker compose up -d redis`",
    "RabbitMQ": "start it (`rabbitmq-server -detached`) or `docker compose up -d rabbitmq`",
}
CONNECT_SECONDS = 5.0


class StartupFailure(Exception):
    """A start-up problem said in one line, never a traceback (SPEC 2): ``idp`` prints it
    and exits with 3."""


class ServiceUnreachable(StartupFailure):
    """The service cannot be used: not there, or (with a ``hint``) there but refusing us,
    when what to do is not to start it but what the hint says."""

    def __init__(
        self,
        service: str,
        url: str,
        reason: str,
        hint: str | None = None,
        *,
        derived_from: str | None = None,
    ) -> None:
        self.service = service
        # A URL the user did not write (``idp migrate``'s admin URL) says where it came from.
        where = redact(url) + (f", derived from {derived_from}," if derived_from else "")
        if hint is None:
            message = f"{service} is not reachable at {where} ({reason}): "
            message += HOW_TO_START[service]
        else:
            message = f"{service} at {where} refused the connection ({reason}): {hint}"
        super().__init__(message)


async def check_all(*checks: Awaitable[None]) -> None:
    """Run the checks side by side and, once all are done, say every failure in one line.

    Not ``gather``'s first-error-cancels-the-rest: a RabbitMQ connection cancelled in the
    middle of its handshake left ``asyncio.run`` waiting on it for good, so a start-up
    with Redis away could hang, silent, instead of saying so. Each check is bounded by
    ``CONNECT_SECONDS`` on its own."""
    outcomes = await asyncio.gather(*checks, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    said = [failure for failure in failures if isinstance(failure, StartupFailure)]
    if len(said) > 1 and len(said) == len(failures):
        raise StartupFailure("; ".join(str(failure) for failure in said))  # still one line
    if failures:
        raise failures[0]


def edge_port_taken(host: str, port: int, exc: OSError) -> StartupFailure:
    """The edge's address cannot be listened on: what holds it, and what to do."""
    return StartupFailure(
        f"the edge cannot listen on {host}:{port} ({exc.strerror or exc}):"
        " stop what holds it, or set EDGE_HOST / EDGE_PORT"
    )


def redact(url: str) -> str:
    """The URL with any password replaced, fit for a log line or an error."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


async def check_postgres(url: str, *, application_role: bool = False) -> None:
    """Reachable, and with ``application_role`` a role row-level security binds: the
    workers' tenant isolation (SPEC 6) rests on it, and nothing else would notice a
    superuser or a BYPASSRLS role in DATABASE_URL."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_SECONDS)
    except asyncpg.InvalidCatalogNameError as exc:
        hint = "the database does not exist; `idp migrate` creates it and its roles"
        raise ServiceUnreachable("PostgreSQL", url, _reason(exc), hint) from None
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError) as exc:
        hint = "wrong role or password; `idp migrate` creates the roles the URLs name"
        raise ServiceUnreachable("PostgreSQL", url, _reason(exc), hint) from None
    except Exception as exc:  # noqa: BLE001 - refused, timed out, rejected, or a DSN it cannot use
        raise ServiceUnreachable("PostgreSQL", url, _reason(exc)) from None
    try:
        if application_role:
            role = await conn.fetchrow(
                "SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
            if role is not None and (role["rolsuper"] or role["rolbypassrls"]):
                raise StartupFailure(
                    f"DATABASE_URL's role {role['name']!r} is not bound by row-level"
                    " security (a superuser, or BYPASSRLS): tenants would not be isolated;"
                    " name the application role (idp_app, which `idp migrate` creates)"
                )
    finally:
        await conn.close()


async def check_redis(url: str) -> None:
    try:
        client: Redis = Redis.from_url(
            url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CONNECT_SECONDS
        )
    except ValueError as exc:  # a URL redis-py cannot use
        raise ServiceUnreachable("Redis", url, _reason(exc)) from None
    try:
        await client.ping()
    except (ResponseError, AuthenticationError) as exc:
        # It answered: it is there, and said no (a database number past its last one, a
        # password it does not take).
        hint = "check REDIS_URL's password and database number (0 to 15 by default)"
        raise ServiceUnreachable("Redis", url, _reason(exc), hint) from None
    except Exception as exc:  # noqa: BLE001 - any other failure means unreachable
        raise ServiceUnreachable("Redis", url, _reason(exc)) from None
    finally:
        await client.aclose()


async def check_amqp(url: str) -> None:
    # aiormq logs its own error line for a refused connection; the one line said here
    # (ServiceUnreachable) is the whole story.
    quiet = logging.getLogger("aiormq.connection")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        conn = await aio_pika.connect(url, timeout=CONNECT_SECONDS)
    except aiormq.exceptions.ProbableAuthenticationError as exc:
        hint = "wrong user or password in AMQP_URL"
        raise ServiceUnreachable("RabbitMQ", url, _reason(exc), hint) from None
    except aiormq.exceptions.InvalidFrameError:
        # The broker closed the connection instead of opening it after the login
        # succeeded: the vhost is missing or the user may not use it (aiormq keeps
        # only the frame's type, not RabbitMQ's reason).
        parts = urlsplit(url)
        vhost, user = unquote(parts.path[1:]) or "/", unquote(parts.username or "guest")
        hint = (
            f"vhost {vhost!r} does not exist or user {user!r} may not use it "
            f"(`rabbitmqctl add_vhost {vhost}` and "
            f"`rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*'`)"
        )
        reason = "connection closed while opening it"
        raise ServiceUnreachable("RabbitMQ", url, reason, hint) from None
    except Exception as exc:  # noqa: BLE001 - aiormq raises many unrelated types
        raise ServiceUnreachable("RabbitMQ", url, _reason(exc)) from None
    finally:
        quiet.setLevel(level)
    await conn.close()
