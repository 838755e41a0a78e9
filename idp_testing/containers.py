"""Testcontainers for the platform's services and for the platform's own image.

Importing this module needs testcontainers but no Docker; only starting a container does.
"""

import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal, Self

from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage
from testcontainers.core.wait_strategies import HttpWaitStrategy

POSTGRES_IMAGE = "postgres:16-alpine"
RABBITMQ_IMAGE = "rabbitmq:3.13-alpine"
REDIS_IMAGE = "redis:7-alpine"
MINIO_IMAGE = "minio/minio:latest"
EDGE_PORT = 3001
Command = Literal["edge", "worker", "migrate"]


def docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when it answers."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Docker"; it is reported
        return f"{type(exc).__name__}: {exc}"
    return None


def minio_container(user: str = "idp-local", password: str | None = None) -> DockerContainer:
    password = password or secrets.token_hex(16)
    return (
        DockerContainer(MINIO_IMAGE)
        .with_command("server /data")
        .with_env("MINIO_ROOT_USER", user)
        .with_env("MINIO_ROOT_PASSWORD", password)
        .with_exposed_ports(9000)
        .waiting_for(HttpWaitStrategy(9000, "/minio/health/live"))
    )


@contextmanager
def service_containers() -> Iterator[dict[str, str]]:
    """PostgreSQL, RabbitMQ, Redis and MinIO in containers; yields the environment for idp."""
    problem = docker_problem()
    if problem is not None:
        import pytest

        pytest.fail(
            f"IDP_TESTCONTAINERS=1 but Docker is not usable ({problem}); start Docker or "
            "unset IDP_TESTCONTAINERS to use the service URLs from the environment",
            pytrace=False,
        )
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    with ExitStack() as stack:
        pg = stack.enter_context(PostgresContainer(POSTGRES_IMAGE, username="postgres"))
        mq = stack.enter_context(RabbitMqContainer(RABBITMQ_IMAGE))
        rd = stack.enter_context(RedisContainer(REDIS_IMAGE))
        s3 = stack.enter_context(minio_container())
        yield services_environment(
            postgres=(pg.get_container_host_ip(), int(pg.get_exposed_port(5432)), pg.password),
            rabbitmq=(mq.get_container_host_ip(), int(mq.get_exposed_port(5672))),
            redis=(rd.get_container_host_ip(), int(rd.get_exposed_port(6379))),
            s3=(
                f"http://{s3.get_container_host_ip()}:{s3.get_exposed_port(9000)}",
                s3.env["MINIO_ROOT_USER"],
                s3.env["MINIO_ROOT_PASSWORD"],
            ),
        )


def services_environment(
    *,
    postgres: tuple[str, int, str],
    rabbitmq: tuple[str, int],
    redis: tuple[str, int],
    s3: tuple[str, str, str] | None = None,
    database: str = "idp_test",
) -> dict[str, str]:
    """The idp settings that point at services on the given addresses."""
    pg_host, pg_port, pg_password = postgres
    env = {
        "DATABASE_ADMIN_URL": f"postgresql://postgres:{pg_password}@{pg_host}:{pg_port}/postgres",
        "DATABASE_URL": f"postgresql://idp_app:idp_app@{pg_host}:{pg_port}/{database}",
        "DATABASE_OWNER_URL": f"postgresql://idp_owner:idp_owner@{pg_host}:{pg_port}/{database}",
        "AMQP_URL": f"amqp://guest:guest@{rabbitmq[0]}:{rabbitmq[1]}/",
        "REDIS_URL": f"redis://{redis[0]}:{redis[1]}/0",
    }
    if s3 is not None:
        endpoint, key_id, secret = s3
        env.update(S3_ENDPOINT_URL=endpoint, S3_ACCESS_KEY_ID=key_id, S3_SECRET_ACCESS_KEY=secret)
    return env


def build_image(context: Path, tag: str = "idp:test") -> DockerImage:
    """Build the platform's image from the repository's ``Dockerfile`` (kept after use)."""
    return DockerImage(path=context, tag=tag, clean_up=False).build()


class IdpContainer(DockerContainer):
    """The platform's own image running ``idp edge``, ``idp worker`` or ``idp migrate``.

    ``env`` is passed through as the container's environment (service URLs as the
    container sees them, secrets, settings). An edge exposes 3001 and counts as started
    once ``/healthz`` answers; ``base_url`` is where the host reaches it.
    """

    def __init__(
        self,
        image: str = "idp:test",
        command: Command = "edge",
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.command = command
        self.with_command(command)
        for name, value in container_environment(command, env or {}).items():
            self.with_env(name, value)
        if command == "edge":
            self.with_exposed_ports(EDGE_PORT)

    def start(self) -> Self:
        super().start()
        if self.command == "edge":
            self._wait_http("/healthz")
        return self

    def exit_code(self, timeout: float = 120.0) -> int:
        """Wait for a one-shot command (``migrate``) to end; its exit status."""
        result = self.get_wrapped_container().wait(timeout=timeout)
        return int(result["StatusCode"])

    @property
    def base_url(self) -> str:
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(EDGE_PORT)}"

    def _wait_http(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=3) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"idp {self.command} did not answer {path} within {timeout}s")


def container_environment(command: Command, env: Mapping[str, str]) -> dict[str, str]:
    """The environment an idp container runs with: ``env``, plus the edge's bind address."""
    result = dict(env)
    if command == "edge":
        result.setdefault("EDGE_HOST", "0.0.0.0")
        result.setdefault("EDGE_PORT", str(EDGE_PORT))
    return result
