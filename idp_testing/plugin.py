"""Pytest plugin: the idp platform for other systems' integration suites.

Registered as the ``idp`` pytest11 entry point, so installing the ``idp`` distribution
is enough. Every fixture is session-scoped and prefixed ``idp_``:

- ``idp_platform``: migrations, one ``idp worker`` and one ``idp edge`` (and a local S3
  when none is configured) against the service URLs in the environment, or against
  testcontainers with ``IDP_TESTCONTAINERS=1``; ready once ``/readyz`` answers 200.
- ``idp_base_url``: where the edge listens.
- ``idp_client``: an ``AsyncIdpClient`` holding no tokens.
- ``idp_tenant_factory``: ``await idp_tenant_factory()`` makes a tenant (unique slug)
  with its owner logged in and returns an ``IdpTenant`` (client, login result, ...).

Suites may override ``idp_platform_env`` (a dict of settings) to configure the platform.
The async fixtures need pytest-asyncio with the session loop (see docs/testing-with-idp.md).
"""

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest

from contracts.auth import LoginResult
from idp_client import AsyncIdpClient
from idp_testing.platform import Platform
from idp_testing.services import containers_if_requested, ensure_vhost, require_service_urls

# Development-only defaults for what the environment does not set; fresh secrets per run.
PLATFORM_DEFAULTS: dict[str, Callable[[], str]] = {
    "JWT_SECRET": lambda: secrets.token_urlsafe(48),
    "JWT_REFRESH_SECRET": lambda: secrets.token_urlsafe(48),
    "ARGON2_MEMORY_KIB": lambda: "8192",  # fast hashing: a test suite, not production
    "ARGON2_TIME_COST": lambda: "1",
    # Every request of a test suite comes from one address: the per-address limit (60
    # sign-ups and logins a minute) would refuse the tenant factory's 61st tenant.
    "IP_RATE_LIMIT_PER_MINUTE": lambda: "1000000",
}


@dataclass
class IdpTenant:
    """A tenant made for one test: its owner is logged in on ``client`` (bearer mode)."""

    client: AsyncIdpClient
    login: LoginResult
    slug: str
    email: str
    password: str


TenantFactory = Callable[..., Awaitable[IdpTenant]]


@dataclass
class _Clients:
    opened: list[AsyncIdpClient] = field(default_factory=list)


def platform_environment(environ: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """What the platform's processes get on top of ``environ``: defaults, then overrides."""
    env = {name: make() for name, make in PLATFORM_DEFAULTS.items() if not environ.get(name)}
    env.update(overrides)
    return env


def start_platform(log_dir_factory: pytest.TempPathFactory, overrides: dict[str, str]) -> Platform:
    """Migrate, then start a worker and an edge; fails the run if they do not get ready."""
    env = platform_environment(dict(os.environ), overrides)
    require_service_urls({**os.environ, **env})
    platform = Platform(log_dir=log_dir_factory.mktemp("idp-platform"), env=env)
    ensure_vhost(platform.environment()["AMQP_URL"])
    platform.migrate()
    platform.start_local_s3()
    platform.start_worker()
    platform.start_edge()
    try:
        platform.wait_ready()
    except BaseException:
        platform.stop()
        raise
    return platform


def stop_platform(platform: Platform) -> None:
    """SIGTERM everything; an edge or worker that does not drain cleanly fails the run."""
    codes = platform.stop()
    unclean = {name: code for name, code in codes.items() if not name.startswith("s3")}
    unclean = {name: code for name, code in unclean.items() if code != 0}
    if unclean:
        pytest.fail(f"idp did not shut down cleanly: {unclean}", pytrace=False)


@pytest.fixture(scope="session")
def idp_platform_env() -> dict[str, str]:
    """Settings for the platform's processes (override in a conftest to change them)."""
    return {}


@pytest.fixture(scope="session")
def idp_services() -> Iterator[None]:
    """With ``IDP_TESTCONTAINERS=1``: PostgreSQL, RabbitMQ, Redis and MinIO containers."""
    with containers_if_requested():
        yield


@pytest.fixture(scope="session")
def idp_platform(
    idp_services: None,
    idp_platform_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    """A running platform (``.base_url``); stopped with SIGTERM at the end of the session."""
    platform = start_platform(tmp_path_factory, idp_platform_env)
    yield platform
    stop_platform(platform)


@pytest.fixture(scope="session")
def idp_base_url(idp_platform: Platform) -> str:
    return idp_platform.base_url


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - without pytest-asyncio only the sync fixtures exist
    pass
else:

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def idp_client(idp_base_url: str) -> AsyncIterator[AsyncIdpClient]:
        """An anonymous client of the platform (sign up or log in to give it tokens)."""
        async with AsyncIdpClient(idp_base_url) as client:
            yield client

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def idp_tenant_factory(idp_base_url: str) -> AsyncIterator[TenantFactory]:
        """``await idp_tenant_factory(slug=None, name=None, email=None, password=None)``."""
        clients = _Clients()

        async def make(
            slug: str | None = None,
            name: str | None = None,
            email: str | None = None,
            password: str | None = None,
        ) -> IdpTenant:
            slug = slug or f"t-{uuid.uuid4().hex[:12]}"
            email = email or f"owner-{slug}@example.com"
            password = password or secrets.token_urlsafe(18)
            client = AsyncIdpClient(idp_base_url)
            clients.opened.append(client)
            login = await client.signup(
                slug=slug,
                name=name or f"Tenant {slug}",
                owner_email=email,
                owner_password=password,
                owner_name="Owner",
            )
            return IdpTenant(client, login, slug, email, password)

        yield make
        for client in clients.opened:
            await client.close()
