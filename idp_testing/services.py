"""The services the platform needs: URLs from the environment, or testcontainers.

Shared by the project's own tests (``tests/support/env.py``) and the pytest plugin, so
both bring services up and check them the same way.
"""

import asyncio
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import pytest

# Either spelling turns the testcontainers path on.
CONTAINERS_FLAGS = ("IDP_TESTCONTAINERS", "IDP_TEST_CONTAINERS")
REQUIRED_URLS = ("DATABASE_URL", "REDIS_URL", "AMQP_URL")


def containers_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(flag) == "1" for flag in CONTAINERS_FLAGS)


def sibling_vhost(amqp_url: str, suffix: str) -> str:
    """The URL of a vhost next to the tests' own, for tests that need a broker to themselves."""
    base, _, vhost = amqp_url.rstrip("/").rpartition("/")
    if "@" in vhost or ":" in vhost:  # the URL names no vhost: it is the default one
        base, vhost = amqp_url.rstrip("/"), "idp"
    return f"{base}/{vhost}-{suffix}"


def vhost_of(amqp_url: str) -> str:
    return amqp_url.rstrip("/").rsplit("/", 1)[-1]


def ensure_vhost(amqp_url: str) -> None:
    """Create the URL's RabbitMQ vhost, for the URL's user, when the broker is this
    machine's and ``rabbitmqctl`` is at hand (local machines, CI); a remote broker is
    left alone."""
    from idp.topology import local_rabbitmqctl

    local = local_rabbitmqctl(amqp_url)
    if local is None or local[1] == "/":
        return
    ctl, vhost = local
    user = unquote(urlsplit(amqp_url).username or "guest")
    listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True, check=False)
    if vhost not in listed.stdout.split():
        subprocess.run([ctl, "-q", "add_vhost", vhost], check=False, capture_output=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
        check=False,
        capture_output=True,
    )


def require_service_urls(environ: Mapping[str, str] = os.environ) -> None:
    """Fail (never skip) when a service URL the platform needs is not configured."""
    missing = [name for name in REQUIRED_URLS if not environ.get(name)]
    if missing:
        pytest.fail(
            f"idp needs {', '.join(missing)} (service URLs of PostgreSQL, Redis, RabbitMQ), "
            "or IDP_TESTCONTAINERS=1 with Docker running",
            pytrace=False,
        )


def require_services(database_admin_url: str, redis_url: str, amqp_url: str) -> None:
    """Fail (never skip) with a line saying how to start whatever is down."""
    from idp.preflight import (
        ServiceUnreachable,
        check_all,
        check_amqp,
        check_postgres,
        check_redis,
    )

    async def check() -> None:
        await check_all(
            check_postgres(database_admin_url),
            check_redis(redis_url),
            check_amqp(amqp_url),
        )

    try:
        asyncio.run(check())
    except ServiceUnreachable as exc:
        pytest.fail(f"integration tests need real services: {exc}", pytrace=False)


@contextmanager
def containers_if_requested() -> Iterator[None]:
    """With ``IDP_TESTCONTAINERS=1``, start the services and point the environment at them."""
    if not containers_requested():
        yield
        return
    from idp_testing.containers import service_containers

    with service_containers() as urls:
        saved = {name: os.environ.get(name) for name in urls}
        os.environ.update(urls)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
