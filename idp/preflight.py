"""Reachability checks that turn a dead service into one clear line (SPEC 2)."""

import logging
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
from redis.asyncio import Redis

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
    def __init__(self, service: str, url: str, reason: str) -> None:
        self.service = service
        super().__init__(
            f"{service} is not reachable at {redact(url)} ({reason}): {HOW_TO_START[service]}"
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


async def check_postgres(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, rejected, or a DSN it cannot use
        raise ServiceUnreachable("PostgreSQL", url, _reason(exc)) from None
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
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
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
    except Exception as exc:  # noqa: BLE001 - aiormq raises many unrelated types
        raise ServiceUnreachable("RabbitMQ", url, _reason(exc)) from None
    finally:
        quiet.setLevel(level)
    await conn.close()
