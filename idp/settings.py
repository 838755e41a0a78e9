"""One typed settings object, read from the environment once at start (12-factor)."""

import ipaddress
import os
import sys
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from contracts.files import VERIFIABLE_CONTENT_TYPES

MIN_SECRET_BYTES = 32

CsvList = Annotated[list[str], NoDecode]


def _url(value: str | None, schemes: tuple[str, ...], *, needs_host: bool = True) -> str | None:
    """``value`` if it is a URL of one of ``schemes`` (with a host, unless not needed): a
    malformed one is a configuration error of one line, not a driver's traceback later."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in schemes or (needs_host and not parts.hostname):
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(
            f"must be a URL starting {starts}" + (", with a host" if needs_host else "")
        )
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError("its port must be a number from 0 to 65535") from None
    return value


class Settings(BaseSettings):
    # An empty variable (`FOO=` in a .env or Compose file) means unset: its default.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    database_url: str
    database_owner_url: str | None = None
    database_admin_url: str | None = None
    redis_url: str
    amqp_url: str
    jwt_secret: SecretStr
    jwt_refresh_secret: SecretStr

    jwt_issuer: str = "idp"
    jwt_audience: str = "idp"
    access_token_ttl: int = Field(900, ge=60, le=3600)
    refresh_token_ttl: int = Field(7 * 24 * 3600, ge=300)
    session_max_age: int = Field(30 * 24 * 3600, ge=300)
    refresh_reuse_grace_seconds: int = Field(10, ge=0, le=300)
    jwt_leeway_seconds: int = Field(30, ge=0, le=30)

    edge_host: str = "127.0.0.1"
    edge_port: int = Field(3001, ge=1, le=65535)
    edge_public_url: str | None = None
    cookie_secure: bool = True
    cors_allowed_origins: CsvList = []
    trusted_proxies: CsvList = []
    request_timeout_seconds: float = Field(10.0, gt=0, le=120)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_header_bytes: int = Field(16 * 1024, ge=4096)
    signup_enabled: bool = True

    argon2_memory_kib: int = Field(19456, ge=8192)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    password_hash_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)

    queue_type: Literal["quorum", "classic"] = "quorum"
    max_deliveries: int = Field(5, ge=1, le=50)
    worker_prefetch: int = Field(64, ge=1, le=1000)
    db_pool_size: int = Field(10, ge=1, le=200)
    outbox_poll_seconds: float = Field(0.5, gt=0)
    outbox_relay: bool = True
    readiness_timeout_seconds: float = Field(2.0, gt=0)

    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "idp-files"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = "idp-local"
    s3_secret_access_key: SecretStr = SecretStr("idp-local-secret")
    max_file_bytes: int = Field(50 * 1024 * 1024, ge=1)
    file_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1)
    file_quota_count: int = Field(10_000, ge=1)
    file_content_types: CsvList = list(VERIFIABLE_CONTENT_TYPES)
    pending_upload_ttl: int = Field(3600, ge=1)
    file_upload_url_ttl: int = Field(900, ge=1, le=7 * 24 * 3600)
    file_download_url_ttl: int = Field(300, ge=1, le=7 * 24 * 3600)
    file_sweep_interval: float = Field(60.0, gt=0)

    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(9101, ge=0, le=65535)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Users and roles
    invite_ttl_seconds: int = Field(7 * 24 * 3600, ge=300, le=30 * 24 * 3600)
    permission_cache_seconds: int = Field(300, ge=1, le=24 * 3600)
    # Brute force (SPEC 4.5): failures per account before delays start, the longest
    # delay, and login/sign-up/reset requests per client address and minute.
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_lock_max_seconds: int = Field(900, ge=1, le=86400)
    ip_rate_limit_per_minute: int = Field(60, ge=1)

    @field_validator("cors_allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        # Compared with a browser's Origin header as written: scheme://host[:port], no more.
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username is not None
            ):
                raise ValueError(
                    f"{origin!r} is not an origin (http:// or https://, a host, an optional"
                    " port, nothing else)"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("file_content_types", mode="before")
    @classmethod
    def _verifiable_types(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip().lower() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            unknown = sorted(set(map(str, value)) - set(VERIFIABLE_CONTENT_TYPES))
            if unknown:
                raise ValueError(
                    f"{', '.join(unknown)} cannot be verified; choose among "
                    + ", ".join(VERIFIABLE_CONTENT_TYPES)
                )
        return value

    @field_validator("database_url", "database_owner_url", "database_admin_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        # No host is a Unix socket for asyncpg (``postgresql:///idp?host=/run/postgresql``).
        return _url(value, ("postgresql", "postgres", "postgresql+asyncpg"), needs_host=False)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return _url(value, ("redis", "rediss", "unix"), needs_host=False) or value

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url(cls, value: str) -> str:
        return _url(value, ("amqp", "amqps")) or value

    @field_validator("s3_endpoint_url", "s3_public_endpoint_url", "edge_public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _url(value or None, ("http", "https"))

    @field_validator("jwt_secret", "jwt_refresh_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _distinct_secrets(self) -> "Settings":
        if self.jwt_secret.get_secret_value() == self.jwt_refresh_secret.get_secret_value():
            raise ValueError("JWT_SECRET and JWT_REFRESH_SECRET must differ")
        return self

    @cached_property
    def public_origin(self) -> str:
        """The edge's own origin, for the CSRF check (SPEC 4.1)."""
        if self.edge_public_url:
            return self.edge_public_url.rstrip("/")
        return f"http://{self.edge_host}:{self.edge_port}"

    @property
    def revocation_ttl_seconds(self) -> int:
        """How long a revocation record must outlive its access tokens: their lifetime
        plus the leeway a verifier grants past ``exp``."""
        return self.access_token_ttl + self.jwt_leeway_seconds

    @cached_property
    def owner_database_url(self) -> str:
        """Where migrations run; by default the app URL with the ``idp_owner`` role and no
        password: never the application role's, or whoever holds DATABASE_URL could log
        in as the owner, who bypasses row-level security. A server that wants passwords
        needs DATABASE_OWNER_URL set."""
        if self.database_owner_url:
            return self.database_owner_url
        return self._beside_database_url("idp_owner")

    @cached_property
    def admin_database_url(self) -> str:
        """A role allowed to create roles and databases, used only by ``idp migrate``."""
        if self.database_admin_url:
            return self.database_admin_url
        return self._beside_database_url("postgres", database="postgres")

    def _beside_database_url(self, username: str, database: str | None = None) -> str:
        """DATABASE_URL's server as ``username``, with no password (never the application
        role's): in its database with its options, or in ``database`` without them."""
        app = make_url(self.database_url)
        return URL.create(
            app.drivername,
            username=username,
            host=app.host,
            port=app.port,
            database=database or app.database,
            query=app.query if database is None else {},
        ).render_as_string(hide_password=False)


def asyncpg_url(url: str) -> URL:
    """A libpq-style ``postgresql://`` URL as SQLAlchemy's asyncpg dialect wants it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def asyncpg_dsn(url: str) -> str:
    """The same URL as asyncpg itself takes it (``asyncpg.connect``, ``create_pool``)."""
    return asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def load_settings() -> Settings:
    """Read the environment; on a bad configuration print one line and exit."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {_short(err)}"
            for err in exc.errors()
        )
        print(f"idp: invalid configuration: {problems}", file=sys.stderr)
        raise SystemExit(2) from None


def _short(err: object) -> str:
    assert isinstance(err, dict)
    if err.get("type") == "missing":
        return "missing (see .env.example)"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")
