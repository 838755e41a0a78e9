"""Fault injection: real processes, real services stopped and started under load.

Each test reports its figures (requests sent, answered, lost, duplicated, recovery time)
on the terminal and in ``build/fault-report.jsonl``; docs/reliability.md tabulates them.
These tests stop and start the local PostgreSQL, RabbitMQ and Redis with the commands
of the development machines; they run last (see ``testpaths``).
"""

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from idp.settings import Settings
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.platform import Platform

REPORT = Path("build/fault-report.jsonl")


@dataclass
class Outcome:
    """What one request got: its status (0 for no answer at all) and how long it took."""

    status: int
    seconds: float
    body: Any = None


@dataclass
class Figures:
    fault: str
    sent: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    recovery_seconds: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def report(self, reporter: Any) -> None:
        REPORT.parent.mkdir(exist_ok=True)
        line = json.dumps(self.__dict__)
        with REPORT.open("a") as out:
            out.write(line + "\n")
        reporter.write_line(f"fault report: {line}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[list[Figures]]:
    collected: list[Figures] = []
    yield collected
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for item in collected:
        item.report(reporter)


@pytest.fixture
def fault_platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """An edge and two workers on a vhost of their own, with a short request budget."""
    amqp_url = sibling_vhost(settings.amqp_url, "faults")
    ensure_vhost(amqp_url)
    platform = Platform(
        log_dir=tmp_path,
        env={
            "AMQP_URL": amqp_url,
            "REQUEST_TIMEOUT_SECONDS": "4",
            "WORKER_PREFETCH": "32",
            "OUTBOX_RELAY": "false",
        },
    )
    platform.start_worker()
    platform.start_worker()
    platform.start_edge()
    platform.wait_ready()
    yield platform
    platform.stop()


async def timed(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Outcome:
    """One request, bounded: a hang past 30 s counts as no answer (status 0)."""
    started = time.monotonic()
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=30), **kw) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return Outcome(r.status, time.monotonic() - started, body)
    except (TimeoutError, aiohttp.ClientError):
        return Outcome(0, time.monotonic() - started)


def control(service: str, action: str) -> None:
    """Stop or start a local service the way the development machines do."""
    commands = {
        ("rabbitmq", "stop"): ["rabbitmqctl", "-q", "stop_app"],
        ("rabbitmq", "start"): ["rabbitmqctl", "-q", "start_app"],
        ("redis", "stop"): ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"],
        ("redis", "start"): [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        ("postgres", "restart"): [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            _pg_version(),
            "main",
            "restart",
            "-m",
            "fast",
        ],
    }
    command = commands[(service, action)]
    if shutil.which(command[0]) is None:
        pytest.fail(f"fault tests control local services with {command[0]}, which is not here")
    subprocess.run(command, check=False, capture_output=True, timeout=120)


def _pg_version() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    return versions[-1]


async def wait_for(predicate: Any, timeout: float) -> float:
    """Seconds until ``await predicate()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    pytest.fail(f"no recovery within {timeout} s")
