"""Service URLs for the tests: from the environment when set, else the local defaults.

Where Docker works and ``IDP_TEST_CONTAINERS=1`` is set, testcontainers starts the
services instead; either way the tests talk to real PostgreSQL, RabbitMQ and Redis.
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from idp.preflight import ServiceUnreachable, check_amqp, check_postgres, check_redis
from idp.settings import Settings

TEST_ENV: dict[str, str] = {
    "DATABASE_URL": "postgresql://idp_app:idp_app@127.0.0.1:5432/idp_test",
    "DATABASE_OWNER_URL": "postgresql://idp_owner:idp_owner@127.0.0.1:5432/idp_test",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/idp-test",
    "JWT_SECRET": "test-only-access-secret-not-for-production-0001",
    "JWT_REFRESH_SECRET": "test-only-refresh-secret-not-for-production-0002",
    "COOKIE_SECURE": "true",
    "LOG_LEVEL": "INFO",
    # Lighter Argon2 parameters keep the suite fast; SPEC's defaults are tested in unit tests.
    "ARGON2_MEMORY_KIB": "8192",
    "ARGON2_TIME_COST": "1",
    # Every test runs from 127.0.0.1, so the shared platform allows the suite's sign-ups
    # and logins; the per-address limit is proven on platforms of its own.
    "IP_RATE_LIMIT_PER_MINUTE": "100000",
}


def apply_test_environment() -> None:
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)


def sibling_vhost(amqp_url: str, suffix: str) -> str:
    """The URL of a vhost next to the tests' own, for tests that need a broker to themselves."""
    base, _, vhost = amqp_url.rstrip("/").rpartition("/")
    if "@" in vhost or ":" in vhost:  # the URL names no vhost: it is the default one
        base, vhost = amqp_url.rstrip("/"), "idp"
    return f"{base}/{vhost}-{suffix}"


def vhost_of(amqp_url: str) -> str:
    return amqp_url.rstrip("/").rsplit("/", 1)[-1]


def ensure_vhost(amqp_url: str) -> None:
    """Create the URL's RabbitMQ vhost if ``rabbitmqctl`` is at hand (local machines, CI)."""
    vhost = amqp_url.rstrip("/").rsplit("/", 1)[-1]
    if not vhost or vhost == "%2F" or "@" in vhost or shutil.which("rabbitmqctl") is None:
        return
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, check=False
    )
    if vhost not in listed.stdout.split():
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=False, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=False,
        capture_output=True,
    )


def require_services(settings: Settings) -> None:
    """Fail (never skip) with a line saying how to start whatever is down."""

    async def check() -> None:
        await asyncio.gather(
            check_postgres(settings.admin_database_url),
            check_redis(settings.redis_url),
            check_amqp(settings.amqp_url),
        )

    try:
        asyncio.run(check())
    except ServiceUnreachable as exc:
        pytest.fail(f"integration tests need real services: {exc}", pytrace=False)


@contextmanager
def containers_if_requested() -> Iterator[None]:
    """Start PostgreSQL, RabbitMQ and Redis with testcontainers when asked to."""
    if os.environ.get("IDP_TEST_CONTAINERS") != "1":
        yield
        return
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    with ExitStack() as stack:
        pg = stack.enter_context(PostgresContainer("postgres:16-alpine", username="postgres"))
        mq = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-alpine"))
        rd = stack.enter_context(RedisContainer("redis:7-alpine"))
        pg_host, pg_port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
        os.environ["DATABASE_ADMIN_URL"] = (
            f"postgresql://postgres:{pg.password}@{pg_host}:{pg_port}/postgres"
        )
        os.environ["DATABASE_URL"] = f"postgresql://idp_app:idp_app@{pg_host}:{pg_port}/idp_test"
        os.environ["DATABASE_OWNER_URL"] = (
            f"postgresql://idp_owner:idp_owner@{pg_host}:{pg_port}/idp_test"
        )
        os.environ["AMQP_URL"] = (
            f"amqp://guest:guest@{mq.get_container_host_ip()}:{mq.get_exposed_port(5672)}/"
        )
        os.environ["REDIS_URL"] = (
            f"redis://{rd.get_container_host_ip()}:{rd.get_exposed_port(6379)}/0"
        )
        yield
