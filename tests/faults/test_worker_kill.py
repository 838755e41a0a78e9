"""SIGKILL a worker with writes in flight: nothing lost, nothing doubled (SPEC 7)."""

import asyncio
import uuid
from collections import Counter

import aiohttp

from idp.settings import Settings
from tests.e2e.conftest import signup
from tests.faults.conftest import (
    Figures,
    create_user,
    retry_until_created,
    rows_per_email,
)
from tests.support.events import EventTap
from tests.support.platform import Platform


async def test_sigkill_a_worker_with_200_writes_in_flight(
    fault_platform: Platform,
    settings: Settings,
    figures: list[Figures],
    user_created_events: EventTap,
) -> None:
    async with aiohttp.ClientSession(base_url=fault_platform.url) as http:
        owner = await signup(http)
    run = uuid.uuid4().hex[:8]
    emails = [f"kill-{run}-{i}@example.com" for i in range(200)]

    victim = next(p for p in fault_platform.processes if p.name == "worker")
    async with aiohttp.ClientSession() as http:
        in_flight = asyncio.gather(
            *(create_user(http, fault_platform, owner["access_token"], e) for e in emails)
        )
        await asyncio.sleep(0.25)
        victim.popen.kill()
        outcomes = await in_flight
        statuses = Counter(o.status for o in outcomes)
        pending, rounds = await retry_until_created(
            http, fault_platform, owner["access_token"], emails, outcomes
        )
    counts = await rows_per_email(settings, owner["tenant"]["id"], emails, user_created_events)
    figures.append(
        Figures(
            "SIGKILL a worker with 200 writes in flight",
            sent=len(emails),
            answered=sum(n for s, n in statuses.items() if s),
            lost=sum(1 for e in emails if counts["users"].get(e, 0) == 0),
            duplicated=sum(1 for e in emails if counts["users"].get(e, 0) > 1),
            notes={"statuses": dict(statuses), "retry_rounds": rounds},
        )
    )
    assert set(statuses) <= {201, 503, 504}, statuses
    assert not pending
    assert all(counts["users"].get(e) == 1 for e in emails)
    assert all(counts["events"].get(e) == 1 for e in emails)
