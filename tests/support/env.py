"""Service URLs for the tests: from the environment when set, else the local defaults.

Where Docker works and ``IDP_TEST_CONTAINERS=1`` (or ``IDP_TESTCONTAINERS=1``) is set,
testcontainers starts the services instead; either way the tests talk to real
PostgreSQL, RabbitMQ and Redis. The mechanics live in ``idp_testing.services``, shared
with the pytest plugin other systems use.
"""

import os

from idp.settings import Settings
from idp_testing import services
from idp_testing.services import containers_if_requested, ensure_vhost, sibling_vhost, vhost_of

__all__ = [
    "TEST_ENV",
    "apply_test_environment",
    "containers_if_requested",
    "ensure_vhost",
    "require_services",
    "sibling_vhost",
    "vhost_of",
]

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


def require_services(settings: Settings) -> None:
    """Fail (never skip) with a line saying how to start whatever is down."""
    services.require_services(settings.admin_database_url, settings.redis_url, settings.amqp_url)
