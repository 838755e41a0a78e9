"""The plugin's pure parts: environments for the platform and its containers."""

import pytest
from testcontainers.core.container import DockerContainer

from idp_testing.containers import IdpContainer, container_environment, services_environment
from idp_testing.plugin import platform_environment
from idp_testing.services import containers_requested, require_service_urls


def test_service_containers_become_idp_settings() -> None:
    env = services_environment(
        postgres=("10.0.0.1", 5433, "pw"),
        rabbitmq=("10.0.0.2", 5673),
        redis=("10.0.0.3", 6380),
        s3=("http://10.0.0.4:9000", "key", "secret"),
    )
    assert env == {
        "DATABASE_ADMIN_URL": "postgresql://postgres:pw@10.0.0.1:5433/postgres",
        "DATABASE_URL": "postgresql://idp_app:idp_app@10.0.0.1:5433/idp_test",
        "DATABASE_OWNER_URL": "postgresql://idp_owner:idp_owner@10.0.0.1:5433/idp_test",
        "AMQP_URL": "amqp://guest:guest@10.0.0.2:5673/",
        "REDIS_URL": "redis://10.0.0.3:6380/0",
        "S3_ENDPOINT_URL": "http://10.0.0.4:9000",
        "S3_ACCESS_KEY_ID": "key",
        "S3_SECRET_ACCESS_KEY": "secret",
    }


def test_an_edge_container_listens_on_every_interface_and_keeps_the_given_environment() -> None:
    given = {"DATABASE_URL": "postgresql://db/idp", "JWT_SECRET": "s" * 40}
    assert container_environment("edge", given) == {
        **given,
        "EDGE_HOST": "0.0.0.0",
        "EDGE_PORT": "3001",
    }
    assert container_environment("worker", given) == given
    assert issubclass(IdpContainer, DockerContainer)


def test_the_platform_gets_fresh_secrets_only_where_none_are_set() -> None:
    made = platform_environment({}, {"SIGNUP_ENABLED": "false"})
    assert len(made["JWT_SECRET"]) >= 32
    assert made["JWT_SECRET"] != made["JWT_REFRESH_SECRET"]
    assert made["SIGNUP_ENABLED"] == "false"
    kept = platform_environment({"JWT_SECRET": "x" * 40, "JWT_REFRESH_SECRET": "y" * 40}, {})
    assert "JWT_SECRET" not in kept
    assert "JWT_REFRESH_SECRET" not in kept


def test_either_flag_asks_for_containers() -> None:
    assert containers_requested({"IDP_TESTCONTAINERS": "1"})
    assert containers_requested({"IDP_TEST_CONTAINERS": "1"})
    assert not containers_requested({"IDP_TESTCONTAINERS": "0"})


def test_missing_service_urls_fail_with_a_line_naming_them() -> None:
    with pytest.raises(pytest.fail.Exception, match="DATABASE_URL, AMQP_URL"):
        require_service_urls({"REDIS_URL": "redis://127.0.0.1:6379/0"})
