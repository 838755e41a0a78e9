"""Settings validation and the sealed grace pair."""

import subprocess
import sys
import uuid

import pytest
from pydantic import ValidationError

from idp.security import grace
from idp.security.tokens import TokenPair
from tests.unit.conftest import SECRET_A, make_settings


def test_weak_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        make_settings(jwt_secret="short")


def test_identical_secrets_are_refused() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        make_settings(jwt_refresh_secret=SECRET_A)


def test_a_missing_secret_stops_start_up_with_one_line() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql://a@b/c",
        "REDIS_URL": "redis://x",
        "AMQP_URL": "amqp://x",
        "JWT_SECRET": SECRET_A,
    }
    done = subprocess.run(
        [sys.executable, "-m", "idp", "edge"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "JWT_REFRESH_SECRET" in lines[0]
    assert "Traceback" not in done.stderr


def test_cors_origins_are_a_comma_separated_list() -> None:
    settings = make_settings(cors_allowed_origins="https://a.example, https://b.example/")
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]
    with_port = make_settings(cors_allowed_origins="http://localhost:5173")
    assert with_port.cors_allowed_origins == ["http://localhost:5173"]
    for not_an_origin in ("localhost:5173", "https://a.example/app", "ftp://a.example", "*"):
        with pytest.raises(ValidationError, match="is not an origin"):
            make_settings(cors_allowed_origins=not_an_origin)


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = make_settings(trusted_proxies="10.0.0.0/8, 127.0.0.1, ::1, 192.168.1.7/24")
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1", "::1", "192.168.1.7/24"]
    with pytest.raises(ValidationError, match=r"'proxy\.local' is not an IP address"):
        make_settings(trusted_proxies="10.0.0.0/8,proxy.local")


def test_the_log_level_is_one_of_four_names_in_any_case() -> None:
    assert make_settings(log_level=" debug ").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="log_level"):
        make_settings(log_level="verbose")


def test_sealed_pair_opens_only_with_its_parent_token_and_session() -> None:
    pair = TokenPair("access", "refresh", 900, 3600)
    session = uuid.uuid4()
    blob = grace.seal("parent-token", session, pair)
    assert b"access" not in blob
    assert b"refresh" not in blob
    assert grace.unseal("parent-token", session, blob) == pair
    assert grace.unseal("another-token", session, blob) is None
    assert grace.unseal("parent-token", uuid.uuid4(), blob) is None


def test_the_derived_owner_url_never_carries_the_application_roles_password() -> None:
    """The owner bypasses row-level security: deriving its URL from DATABASE_URL with the
    same password let whoever holds the workers' URL log in as the owner."""
    settings = make_settings(
        database_url="postgresql://idp_app:S3cretAppPw@db:5432/idp", database_owner_url=None
    )
    assert settings.owner_database_url == "postgresql://idp_owner@db:5432/idp"
