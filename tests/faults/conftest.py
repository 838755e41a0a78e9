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
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from idp.settings import Settings, asyncpg_dsn
from tests.e2e.conftest import PASSWORD
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.events import EventTap, event_tap
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


async def create_user(
    http: aiohttp.ClientSession, platform: Platform, token: str, email: str
) -> Outcome:
    """``POST /v1/users`` with an ``Idempotency-Key`` derived from the email."""
    body = {"email": email, "name": "Load", "role": "member", "password": PASSWORD}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"create-{email}"}
    return await timed(http, "POST", f"{platform.url}/v1/users", json=body, headers=headers)


async def retry_until_created(
    http: aiohttp.ClientSession,
    platform: Platform,
    token: str,
    emails: list[str],
    outcomes: list[Outcome],
    rounds: int = 30,
) -> tuple[list[str], int]:
    """Retry the writes that did not get 201, with their keys; (still pending, rounds)."""
    pending = [e for e, o in zip(emails, outcomes, strict=True) if o.status != 201]
    done = 0
    while pending and done < rounds:
        done += 1
        again = await asyncio.gather(*(create_user(http, platform, token, e) for e in pending))
        pending = [e for e, o in zip(pending, again, strict=True) if o.status != 201]
        if pending:
            await asyncio.sleep(0.5)
    return pending, done


@pytest.fixture
async def user_created_events(settings: Settings) -> AsyncIterator[EventTap]:
    """``user.created`` as other systems get it, in each vhost a relay may publish this
    database's outbox to: the fault platform's, and the shared test platform's."""
    async with event_tap(_event_urls(settings), "user.created") as tap:
        yield tap


def _event_urls(settings: Settings) -> list[str]:
    return [settings.amqp_url, sibling_vhost(settings.amqp_url, "faults")]


async def rows_per_email(
    settings: Settings, tenant_id: str, emails: list[str], events: EventTap
) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        users = await conn.fetch(
            "SELECT lower(email) AS e, count(*) AS n FROM users WHERE tenant_id = $1 GROUP BY 1",
            uuid.UUID(tenant_id),
        )
        audit = await conn.fetch(
            "SELECT lower(u.email) AS e, count(*) AS n FROM audit_log a JOIN users u"
            " ON u.id::text = a.target_id WHERE a.tenant_id = $1 AND a.action = 'user.created'"
            " GROUP BY 1",
            uuid.UUID(tenant_id),
        )
    finally:
        await conn.close()
    wanted = set(emails)
    counts: dict[str, Any] = {
        name: {r["e"]: r["n"] for r in rows if r["e"] in wanted}
        for name, rows in (("users", users), ("audit", audit))
    }
    # The fault platform may be gone: what its relay left, this relays.
    published = await events.settled(settings, tenant_id, relay_to=_event_urls(settings)[1])
    per_email = Counter(event["data"]["user"]["email"].lower() for event in published)
    counts["events"] = {e: n for e, n in per_email.items() if e in wanted}
    return counts
