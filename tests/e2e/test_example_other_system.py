"""The examples/ script works as another system would use the broker (SPEC 5)."""

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp

from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, bearer, signup

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "other_system.py"


async def test_lists_users_over_amqp_and_sees_user_created(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    owner = await signup(http)
    env = {
        **os.environ,
        "AMQP_URL": settings.amqp_url,
        "ACCESS_TOKEN": owner["access_token"],
        "FOLLOW_SECONDS": "8",
    }
    example = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert example.stdout is not None
    listed = json.loads(await asyncio.wait_for(example.stdout.readline(), 15))
    assert listed["users.list"]["ok"] is True
    assert [u["email"] for u in listed["users.list"]["data"]["items"]] == [owner["user"]["email"]]
    body = {
        "email": "new.colleague@example.com",
        "name": "New",
        "role": "member",
        "password": PASSWORD,
    }
    async with http.post("/v1/users", json=body, headers=bearer(owner["access_token"])) as r:
        assert r.status == 201, await r.text()
    seen: list[dict[str, str]] = []
    while "new.colleague@example.com" not in [e["email"] for e in seen]:
        line = await asyncio.wait_for(example.stdout.readline(), 15)
        assert line, f"the example ended without the event; it printed {seen}"
        seen.append(json.loads(line))  # other tenants' users are created meanwhile, too
    assert {e["event"] for e in seen} == {"user.created"}
    await asyncio.wait_for(example.wait(), 15)
    assert example.returncode == 0
