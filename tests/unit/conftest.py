"""Unit tests: pure logic, no I/O."""

import pytest

from idp.settings import Settings

SECRET_A = "unit-test-access-secret-0123456789abcdef"
SECRET_B = "unit-test-refresh-secret-0123456789abcdef"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "postgresql://idp_app:x@127.0.0.1/idp",
        "redis_url": "redis://127.0.0.1:6379/0",
        "amqp_url": "amqp://guest:guest@127.0.0.1/",
        "jwt_secret": SECRET_A,
        "jwt_refresh_secret": SECRET_B,
        "argon2_memory_kib": 19456,
        "argon2_time_cost": 2,
        "argon2_parallelism": 1,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()
