"""Session-wide set-up: test service URLs, and real services for the tiers that need them."""

import asyncio
from collections.abc import Iterator

import pytest

from idp.settings import Settings
from tests.support.env import apply_test_environment, ensure_vhost, require_services
from tests.support.s3 import moto_server

apply_test_environment()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def settings(idp_services: None) -> Settings:
    """Settings of the services under test; the database is migrated to the latest revision.

    ``idp_services`` (the idp_testing plugin) starts containers first when asked to.
    """
    from idp.bootstrap import migrate

    settings = Settings()
    ensure_vhost(settings.amqp_url)
    require_services(settings)
    asyncio.run(migrate(settings))
    return settings


@pytest.fixture(scope="session")
def s3_endpoint_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, a real HTTP endpoint on a free port, for the whole session."""
    with moto_server(tmp_path_factory.mktemp("s3") / "moto.log") as url:
        yield url
