"""The broker, PostgreSQL or Redis going away and coming back, under load (SPEC 7)."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp

from idp.settings import Settings
from tests.e2e.conftest import signup
from tests.faults.conftest import (
    Figures,
    Outcome,
    control,
    create_user,
    retry_until_created,
    rows_per_email,
    timed,
    wait_for,
)
from tests.support.events import EventTap
from tests.support.platform import Platform

BUDGET = 4.0  # the fault platform's REQUEST_TIMEOUT_SECONDS


async def _load(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    stop: asyncio.Event,
    log: list[tuple[float, Outcome]],
) -> None:
    while not stop.is_set():
        outcome = await timed(http, "GET", url, headers=headers)
        log.append((time.monotonic(), outcome))
        if outcome.status != 200:
            await asyncio.sleep(0.02)


async def _outage(
    platform: Platform,
    fault: str,
    stop_cmd: tuple[str, str],
    start_cmd: tuple[str, str] | None,
    figures: list[Figures],
    outage_seconds: float = 3.0,
    during: Callable[[aiohttp.ClientSession], Awaitable[None]] | None = None,
) -> tuple[list[tuple[float, Outcome]], float, float]:
    """Reads under load across an outage; returns the log, the restart time and recovery.
    ``during`` runs a second into the outage, with a session on the platform."""
    async with aiohttp.ClientSession(base_url=platform.url) as http:
        owner = await signup(http)
    headers = {"Authorization": f"Bearer {owner['access_token']}"}
    log: list[tuple[float, Outcome]] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        url = f"{platform.url}/v1/auth/me"
        workers = [asyncio.create_task(_load(http, url, headers, stop, log)) for _ in range(8)]
        await asyncio.sleep(2)
        baseline_end = time.monotonic()
        await asyncio.to_thread(control, *stop_cmd)
        await asyncio.sleep(1.0)
        if during is not None:
            async with aiohttp.ClientSession(base_url=platform.url) as probe:
                await during(probe)
        await asyncio.sleep(outage_seconds - 1.0)
        if start_cmd is not None:
            await asyncio.to_thread(control, *start_cmd)
        restarted = time.monotonic()

        async def serving() -> bool:
            return any(at > restarted and o.status == 200 for at, o in log[-50:])

        recovery = await wait_for(serving, 60)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*workers)
    statuses = Counter(o.status for _, o in log)
    baseline = [o for at, o in log if at <= baseline_end]
    after = [o for at, o in log if at > restarted + recovery + 0.5]
    rate_before = len(baseline) / 2
    rate_after = len(after) / max(time.monotonic() - (restarted + recovery + 0.5), 0.1)
    figures.append(
        Figures(
            fault,
            sent=len(log),
            answered=sum(n for s, n in statuses.items() if s),
            lost=statuses.get(0, 0),
            recovery_seconds=round(recovery, 2),
            notes={
                "statuses": dict(statuses),
                "rps_before": round(rate_before),
                "rps_after": round(rate_after),
            },
        )
    )
    assert statuses.get(0, 0) == 0, "a request got no answer"
    assert set(statuses) <= {200, 503, 504}, statuses
    assert max(o.seconds for _, o in log) < BUDGET + 1.5, "a request hung past its budget"
    assert statuses[503] + statuses[504] > 0, "the outage was not observed"
    assert rate_after >= 0.5 * rate_before, "throughput did not come back"
    return log, restarted, recovery


async def test_rabbitmq_restart(fault_platform: Platform, figures: list[Figures]) -> None:
    await _outage(
        fault_platform,
        "RabbitMQ stop_app/start_app under load",
        ("rabbitmq", "stop"),
        ("rabbitmq", "start"),
        figures,
    )
    await wait_for(lambda: _ready(fault_platform), 30)


async def test_redis_outage_fails_closed(fault_platform: Platform, figures: list[Figures]) -> None:
    refused: list[int] = []

    async def malformed_login(http: aiohttp.ClientSession) -> None:
        # Refused by the edge itself, which counts it against its address first (Redis).
        async with http.post("/v1/auth/login", data=b"not json") as response:
            refused.append(response.status)

    log, _, _ = await _outage(
        fault_platform,
        "Redis stopped under load",
        ("redis", "stop"),
        ("redis", "start"),
        figures,
        during=malformed_login,
    )
    assert all(o.status in {200, 503} for _, o in log)  # never a 500, never a bypass
    assert refused == [503]


async def test_postgres_restart_loses_and_doubles_nothing(
    fault_platform: Platform,
    settings: Settings,
    figures: list[Figures],
    user_created_events: EventTap,
) -> None:
    async with aiohttp.ClientSession(base_url=fault_platform.url) as http:
        owner = await signup(http)
    run = uuid.uuid4().hex[:8]
    emails = [f"pg-{run}-{i}@example.com" for i in range(120)]

    async with aiohttp.ClientSession() as http:
        first = asyncio.gather(
            *(create_user(http, fault_platform, owner["access_token"], e) for e in emails)
        )
        await asyncio.sleep(0.3)
        await asyncio.to_thread(control, "postgres", "restart")
        restarted = time.monotonic()
        outcomes = await first
        pending, retries = await retry_until_created(
            http, fault_platform, owner["access_token"], emails, outcomes
        )
        converged = time.monotonic() - restarted
    statuses = Counter(o.status for o in outcomes)
    counts = await rows_per_email(settings, owner["tenant"]["id"], emails, user_created_events)
    figures.append(
        Figures(
            "PostgreSQL restart under writes",
            sent=len(emails),
            answered=sum(n for s, n in statuses.items() if s),
            lost=sum(1 for e in emails if counts["users"].get(e, 0) == 0),
            duplicated=sum(1 for e in emails if counts["users"].get(e, 0) > 1),
            recovery_seconds=round(converged, 2),
            notes={"statuses": dict(statuses), "retry_rounds": retries},
        )
    )
    assert set(statuses) <= {201, 503, 504}, statuses
    assert not pending, f"{len(pending)} writes never converged"
    for email in emails:
        assert counts["users"].get(email) == 1, email
        assert counts["audit"].get(email) == 1, f"user without its audit entry: {email}"
        assert counts["events"].get(email) == 1, f"user without its event: {email}"


async def _ready(platform: Platform) -> bool:
    async with aiohttp.ClientSession() as http:
        return (await timed(http, "GET", f"{platform.url}/readyz")).status == 200
