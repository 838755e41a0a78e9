"""A real edge and a real worker process, talked to over HTTP."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from idp.security.passwords import PasswordHasher
from idp.settings import Settings
from tests.support.events import EventTap, event_tap
from tests.support.platform import Platform
from workers.tables import roles
from workers.uow import Database
from workers.users import repository as users

PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="session")
def idp_platform_env(settings: Settings, s3_endpoint_url: str) -> dict[str, str]:
    """The session platform uses the tests' S3 server (so tests can look at the objects)."""
    return {"S3_ENDPOINT_URL": s3_endpoint_url}


@pytest.fixture(scope="session")
def platform(settings: Settings, idp_platform: Platform) -> Platform:
    """The idp_testing plugin's platform: one edge and one worker for the whole session,
    shared with the plugin's ``idp_client``/``idp_tenant_factory``; the plugin fails the
    run if they do not shut down cleanly."""
    return idp_platform


@pytest.fixture
async def events(settings: Settings, platform: Platform) -> AsyncIterator[EventTap]:
    """Every event as another system gets it: the test platform's relay (``platform``
    runs it) publishes the whole shared database's outbox; the other platforms of these
    tests run with OUTBOX_RELAY off."""
    async with event_tap(settings.amqp_url, "#") as tap:
        yield tap


@pytest.fixture
async def http(platform: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=platform.url, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        yield session


def unique_slug() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def signup(
    http: aiohttp.ClientSession, email: str = "owner@example.com", bearer: bool = True
) -> dict[str, Any]:
    """A new tenant with its owner logged in; bearer mode returns the tokens in the body."""
    headers = {"X-Auth-Mode": "bearer"} if bearer else {}
    body = {
        "slug": unique_slug(),
        "name": "Acme",
        "owner": {"email": email, "password": PASSWORD, "name": "Owner"},
    }
    async with http.post("/v1/tenants", json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        result: dict[str, Any] = await response.json()
    return result


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


LIFETIMES = ("expires_in", "refresh_expires_in")


def assert_same_opening(first: dict[str, Any], *again: dict[str, Any]) -> None:
    """Replies to one opening message: the same user, tenant and pair. A replay's
    lifetimes say what the pair has left when it is answered, so they may be a second or
    so below another reply's."""
    for reply in again:
        assert {k: v for k, v in reply.items() if k not in LIFETIMES} == {
            k: v for k, v in first.items() if k not in LIFETIMES
        }
        for lifetime in LIFETIMES:
            assert abs(reply[lifetime] - first[lifetime]) <= 5, (lifetime, first, reply)


async def assert_error(
    response: aiohttp.ClientResponse, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response has ``status`` and SPEC 4's error shape, with the request id echoed."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "request_id"} <= set(error)
    assert error["request_id"] == response.headers["X-Request-ID"]
    if code is not None:
        assert error["code"] == code
    return error


async def add_member(settings: Settings, tenant_id: str, email: str, role: str = "member") -> str:
    """A second, active user of the tenant with a built-in role, member unless said
    (set up as the app role)."""
    db = Database.connect(settings)
    hasher = PasswordHasher(settings)
    try:
        password_hash = await hasher.hash(PASSWORD)
        user_id = uuid.uuid4()
        async with db.transaction(uuid.UUID(tenant_id)) as uow:
            role_id = (
                await uow.connection.execute(select(roles.c.id).where(roles.c.name == role))
            ).scalar_one()
            await users.insert_user(
                uow,
                user_id=user_id,
                tenant_id=uuid.UUID(tenant_id),
                email=email,
                name="Member",
                password_hash=password_hash,
                status="active",
                role_id=role_id,
                now=datetime.now(UTC),
            )
    finally:
        hasher.close()
        await db.close()
    return str(user_id)
