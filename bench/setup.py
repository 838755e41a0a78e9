"""The bench's own tenant, users and sessions, created over HTTP before measuring."""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

PASSWORD = "bench passphrase of decent length"
USERS = 60  # so that a page of users_list is full (50 items)
BEARER_MODE = {"X-Auth-Mode": "bearer"}
RETRIES = 5


class SetupFailed(Exception):
    """The platform refused a set-up request: the bench cannot measure anything."""


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class Fixture:
    slug: str
    owner: Session
    emails: tuple[str, ...]
    sessions: tuple[Session, ...]  # one per connection: refresh chains and /me callers


async def _post(
    http: aiohttp.ClientSession, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST, retrying a 503 (a service restarting) a few times; anything else fails."""
    for attempt in range(RETRIES):
        async with http.post(path, json=body, headers=headers) as response:
            if response.status in (200, 201):
                result: dict[str, Any] = await response.json()
                return result
            failure = f"POST {path}: {response.status} {(await response.text())[:300]}"
            if response.status != 503:
                break
        await asyncio.sleep(0.5 * 2**attempt)
    raise SetupFailed(failure)


def _session(result: dict[str, Any]) -> Session:
    return Session(str(result["access_token"]), str(result["refresh_token"]))


async def prepare(base_url: str, sessions: int) -> Fixture:
    """A new tenant, ``USERS`` active members, and ``sessions`` logged-in sessions."""
    slug = f"bench-{uuid.uuid4().hex[:12]}"
    async with aiohttp.ClientSession(
        base_url=base_url, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        signup = {
            "slug": slug,
            "name": "Bench",
            "owner": {"email": "owner@bench.example", "password": PASSWORD, "name": "Owner"},
        }
        owner = _session(await _post(http, "/v1/tenants", signup, BEARER_MODE))
        as_owner = {"Authorization": f"Bearer {owner.access_token}"}
        emails = tuple(f"user{i}@bench.example" for i in range(USERS))
        gate = asyncio.Semaphore(8)

        async def create(email: str) -> None:
            body = {"email": email, "name": "Bench Member", "role": "member", "password": PASSWORD}
            async with gate:
                await _post(http, "/v1/users", body, as_owner)

        await asyncio.gather(*(create(email) for email in emails))

        async def login(index: int) -> Session:
            body = {"tenant": slug, "email": emails[index % USERS], "password": PASSWORD}
            async with gate:
                return _session(await _post(http, "/v1/auth/login", body, BEARER_MODE))

        logged_in = await asyncio.gather(*(login(i) for i in range(sessions)))
    return Fixture(slug, owner, emails, tuple(logged_in))
