"""Brute force, the refresh grace window and CORS on a platform of their own.

Small limits (3 failures, delays capped at 4 s, 8 requests per address and minute, a 1 s
grace window) keep the tests short; the edge trusts 127.0.0.1 as a proxy so each test
speaks from its own client address through ``X-Forwarded-For``.
"""

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import jwt
import orjson
import pytest

from idp.security.address_limit import LIMITED
from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, assert_error, bearer, unique_slug
from tests.support.database import as_owner
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.events import EventTap
from tests.support.platform import Platform

ALLOWED_ORIGIN = "https://app.example"
GRACE_SECONDS = 1


@pytest.fixture(scope="module")
def guarded(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # A vhost of its own: the shared platform's workers must not serve these requests.
    amqp_url = sibling_vhost(settings.amqp_url, "guarded")
    ensure_vhost(amqp_url)
    platform = Platform(
        log_dir=tmp_path_factory.mktemp("guarded"),
        env={
            "AMQP_URL": amqp_url,
            "OUTBOX_RELAY": "false",  # the session platform relays the shared outbox
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "LOGIN_MAX_FAILURES": "3",
            "LOGIN_LOCK_MAX_SECONDS": "4",
            "IP_RATE_LIMIT_PER_MINUTE": "8",
            "REFRESH_REUSE_GRACE_SECONDS": str(GRACE_SECONDS),
            "CORS_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        },
    )
    platform.start_worker()
    platform.start_edge()
    platform.wait_ready()
    yield platform
    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"


@pytest.fixture
async def client(guarded: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=guarded.url, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        yield session


def new_address() -> dict[str, str]:
    """Headers that make the request come from a fresh client address."""
    octets = (random.randrange(256), random.randrange(256), random.randrange(1, 255))
    return {"X-Forwarded-For": "10.{}.{}.{}".format(*octets)}


async def open_tenant(
    client: aiohttp.ClientSession, email: str = "owner@example.com"
) -> dict[str, Any]:
    body = {
        "slug": unique_slug(),
        "name": "Guarded",
        "owner": {"email": email, "password": PASSWORD, "name": "Owner"},
    }
    headers = {"X-Auth-Mode": "bearer", **new_address()}
    async with client.post("/v1/tenants", json=body, headers=headers) as r:
        assert r.status == 201, await r.text()
        result: dict[str, Any] = await r.json()
    return result


async def login(
    client: aiohttp.ClientSession,
    slug: str,
    password: str,
    address: dict[str, str],
    email: str = "owner@example.com",
) -> aiohttp.ClientResponse:
    body = {"tenant": slug, "email": email, "password": password}
    return await client.post(
        "/v1/auth/login", json=body, headers={"X-Auth-Mode": "bearer", **address}
    )


async def test_a_throttled_account_waits_and_others_do_not(client: aiohttp.ClientSession) -> None:
    victim, bystander = await open_tenant(client), await open_tenant(client)
    attacker = new_address()
    for _ in range(3):
        async with await login(client, victim["tenant"]["slug"], "guess!guess", attacker) as r:
            await assert_error(r, 401, "invalid_credentials")
    # Past the limit, even the right password waits; the answer says for how long.
    async with await login(client, victim["tenant"]["slug"], PASSWORD, new_address()) as r:
        await assert_error(r, 429, "rate_limited")
        assert r.headers["Retry-After"] == "1"
    # Another account, from the attacker's own address, is untouched.
    async with await login(client, bystander["tenant"]["slug"], PASSWORD, attacker) as r:
        assert r.status == 200


async def test_every_spelling_of_the_address_counts_toward_one_limit(
    client: aiohttp.ClientSession,
) -> None:
    """The login finds the account by PostgreSQL's lower() of the address. The limit was
    keyed on Python's casefold(), which differs for a dotted capital I (U+0130): each
    "i" of the address written "\u0130" gave the account a record of its own and three
    more guesses. The limit is now keyed on the lookup's own fold."""
    victim = await open_tenant(client, email="kim.lin@example.com")
    slug, dotted = victim["tenant"]["slug"], "\u0130"
    guesses = (f"k{dotted}m.lin@example.com", f"kim.l{dotted}n@example.com", "KIM.LIN@example.com")
    for spelling in guesses:
        async with await login(client, slug, "guess!guess", new_address(), spelling) as r:
            await assert_error(r, 401, "invalid_credentials")
    both = f"k{dotted}m.l{dotted}n@example.com"
    async with await login(client, slug, PASSWORD, new_address(), both) as r:
        await assert_error(r, 429, "rate_limited")
    await asyncio.sleep(1.1)
    # That spelling does find the account: once the delay has passed, it gets in.
    async with await login(client, slug, PASSWORD, new_address(), both) as r:
        assert r.status == 200, await r.text()


async def test_guesses_at_password_change_count_toward_the_login_limit_in_any_spelling(
    client: aiohttp.ClientSession,
) -> None:
    """A stolen session must not guess the password unthrottled: the change's check
    shares the account's record with its logins. The change keyed it on Python's
    casefold() of the stored address, the login on that of the address given, so an
    account created as "\u0130lker@..." had two records."""
    victim = await open_tenant(client, email="\u0130lker@example.com")
    slug, session = victim["tenant"]["slug"], bearer(victim["access_token"])
    wrong = {"current_password": "guess!guess", "new_password": "an entirely new passphrase"}
    for _ in range(3):
        async with client.post("/v1/auth/password", json=wrong, headers=session) as r:
            await assert_error(r, 401, "invalid_credentials")
    async with await login(client, slug, PASSWORD, new_address(), "ilker@example.com") as r:
        await assert_error(r, 429, "rate_limited")


async def _audit(client: aiohttp.ClientSession, owner: dict[str, Any], action: str) -> list[Any]:
    async with client.get(
        "/v1/audit", params={"action": action}, headers=bearer(owner["access_token"])
    ) as r:
        assert r.status == 200, await r.text()
        items: list[Any] = (await r.json())["items"]
    return items


async def test_refused_guesses_and_failed_password_changes_leave_an_audit_trail(
    client: aiohttp.ClientSession,
) -> None:
    """A lifecycle audit found no entry for a wrong current password at a password change
    (a stolen session could guess unseen) nor for logins the account's delay refused.
    Refusals are recorded once a minute per account (each costs no password check, so
    one entry apiece would let anyone fill the trail), and an unknown account's address,
    anyone's text, is recorded escaped."""
    victim = await open_tenant(client)
    slug, attacker = victim["tenant"]["slug"], new_address()
    wrong = {"current_password": "guess!guess", "new_password": "an entirely new passphrase"}
    async with client.post(
        "/v1/auth/password", json=wrong, headers=bearer(victim["access_token"])
    ) as r:
        await assert_error(r, 401, "invalid_credentials")
    [entry] = await _audit(client, victim, "auth.password_change_failed")
    assert entry["actor_id"] == victim["user"]["id"]
    for _ in range(2):
        async with await login(client, slug, "guess!guess", attacker) as r:
            await assert_error(r, 401, "invalid_credentials")
    for _ in range(3):
        async with await login(client, slug, "guess!guess", attacker) as r:
            await assert_error(r, 429, "rate_limited")
    assert len(await _audit(client, victim, "auth.login_throttled")) == 1
    hostile = "x\u202e\x1b[31m\r\nrole.changed@example.com" + "y" * 900
    async with await login(client, slug, "guess!guess", new_address(), hostile) as r:
        await assert_error(r, 401, "invalid_credentials")
    recorded = (await _audit(client, victim, "auth.login_failed"))[0]["data"]["email"]
    assert len(recorded) <= 254
    assert recorded.startswith("x\\u202e\\u001b[31m\\u000d\\u000arole.changed@")


async def test_a_burst_of_guesses_gets_no_more_checks_than_the_limit(
    client: aiohttp.ClientSession,
) -> None:
    """Twelve wrong passwords at once, from twelve addresses: three are checked (401),
    the others wait for them and are refused (429). Before, every guess in flight was
    checked: 60 at once were 60 guesses. A burst of right passwords all get in."""
    victim = await open_tenant(client)
    slug = victim["tenant"]["slug"]

    async def attempt(password: str) -> int:
        async with await login(client, slug, password, new_address()) as r:
            return r.status

    guesses = await asyncio.gather(*(attempt(f"guess!{n:04}") for n in range(12)))
    assert sorted(guesses) == [401] * 3 + [429] * 9
    other = await open_tenant(client)
    slug = other["tenant"]["slug"]
    assert await asyncio.gather(*(attempt(PASSWORD) for _ in range(8))) == [200] * 8


async def test_unknown_accounts_are_throttled_the_same_way(client: aiohttp.ClientSession) -> None:
    address = new_address()
    body = {"tenant": unique_slug(), "email": "ghost@example.com", "password": "guess!guess"}
    statuses = []
    for _ in range(4):
        async with client.post("/v1/auth/login", json=body, headers=address) as r:
            statuses.append(r.status)
            retry_after = r.headers.get("Retry-After")
    assert statuses == [401, 401, 401, 429]
    assert retry_after == "1"


async def test_the_delay_doubles_and_the_right_password_then_gets_in(
    client: aiohttp.ClientSession,
) -> None:
    victim = await open_tenant(client)
    slug, attacker = victim["tenant"]["slug"], new_address()
    for _ in range(3):
        async with await login(client, slug, "guess!guess", attacker) as r:
            assert r.status == 401
    await asyncio.sleep(1.1)
    async with await login(client, slug, "guess!guess", attacker) as r:
        assert r.status == 401  # one try after the delay, wrong: the delay doubles
    async with await login(client, slug, PASSWORD, attacker) as r:
        await assert_error(r, 429, "rate_limited")
        assert r.headers["Retry-After"] == "2"
    await asyncio.sleep(2.1)
    async with await login(client, slug, PASSWORD, new_address()) as r:
        assert r.status == 200  # the user, from elsewhere, gets in after the delay
    async with await login(client, slug, "guess!guess", attacker) as r:
        assert r.status == 401  # and the count starts again


async def test_each_address_is_limited_per_minute_across_login_signup_and_reset(
    client: aiohttp.ClientSession,
) -> None:
    # The limit counts per wall-clock minute: start well inside one, or the window could
    # roll over mid-test and reset the count.
    into_minute = time.time() % 60
    if into_minute > 45:
        await asyncio.sleep(60 - into_minute + 0.2)
    address = new_address()
    # Well-formed and malformed alike: a login the edge refuses as a 400 (no password,
    # not JSON) is still a login request from that address (SPEC 4.5).
    # An account of its own: two failures, under the per-account limit whatever ran before.
    who = {"tenant": "some-tenant", "email": f"limit-{uuid.uuid4().hex[:12]}@example.com"}
    attempts: list[tuple[str, dict[str, Any] | bytes, set[int]]] = [
        ("/v1/auth/login", {**who, "password": "w!"}, {401}),
        ("/v1/auth/password-reset/request", who, {202}),
        ("/v1/auth/login", who, {400}),
        ("/v1/auth/login", b"{not json", {400}),
        ("/v1/tenants", {"slug": "x"}, {400}),
    ]
    for i in range(8):
        path, body, expected = attempts[i % len(attempts)]
        payload = {"json": body} if isinstance(body, dict) else {"data": body}
        async with client.post(path, headers=address, **payload) as r:
            assert r.status in expected, (i, r.status, await r.text())
    async with client.post("/v1/auth/login", data=b"{not json", headers=address) as r:
        # Refused by the edge itself, and said as the workers say it.
        assert (await assert_error(r, 429, "rate_limited"))["message"] == LIMITED
    signup: dict[str, Any] = {
        "slug": unique_slug(),
        "name": "Late",
        "owner": {"email": "o@example.com", "password": PASSWORD, "name": "O"},
    }
    for path, body in (
        ("/v1/tenants", signup),
        ("/v1/auth/password-reset/request", {"tenant": "some-tenant", "email": "y@example.com"}),
        ("/v1/auth/login", {"tenant": "some-tenant", "email": "y@example.com", "password": "p"}),
    ):
        async with client.post(path, json=body, headers=address) as r:
            assert (await assert_error(r, 429, "rate_limited"))["message"] == LIMITED
            assert 1 <= int(r.headers["Retry-After"]) <= 60
    async with client.post("/v1/tenants", json=signup, headers=new_address()) as r:
        assert r.status == 201


async def test_an_ipv6_client_is_limited_by_its_64_not_by_each_address(
    client: aiohttp.ClientSession,
) -> None:
    """A subscriber routinely holds a whole /64: counted per address, it could start a
    fresh count from each of its 2^64 addresses. Its neighbour /64 is another client."""
    into_minute = time.time() % 60
    if into_minute > 50:
        await asyncio.sleep(60 - into_minute + 0.2)
    prefix = f"2001:db8:{random.randrange(65536):x}:{random.randrange(65536):x}"

    async def reset_request(address: str) -> aiohttp.ClientResponse:
        body = {"tenant": "some-tenant", "email": f"x-{uuid.uuid4().hex[:8]}@example.com"}
        return await client.post(
            "/v1/auth/password-reset/request", json=body, headers={"X-Forwarded-For": address}
        )

    for host in range(1, 9):
        async with await reset_request(f"{prefix}::{host:x}") as r:
            assert r.status == 202, await r.text()
    async with await reset_request(f"{prefix}:ffff:ffff:ffff:fffe") as r:
        await assert_error(r, 429, "rate_limited")
    neighbour = f"2001:db8:{random.randrange(65536):x}:{random.randrange(65536):x}::1"
    async with await reset_request(neighbour) as r:
        assert r.status == 202, await r.text()


async def test_grace_retry_returns_the_same_child_and_later_reuse_kills_it(
    client: aiohttp.ClientSession, settings: Settings, guarded: Platform, events: EventTap
) -> None:
    owner = await open_tenant(client)
    parent = owner["refresh_token"]

    async def refresh(token: str) -> aiohttp.ClientResponse:
        return await client.post(
            "/v1/auth/refresh", json={"refresh_token": token}, headers={"X-Auth-Mode": "bearer"}
        )

    async with await refresh(parent) as r:
        assert r.status == 200
        child = await r.json()
    async with await refresh(parent) as r:  # a lost response, retried inside the window
        assert r.status == 200
        retried = await r.json()
    assert retried["refresh_token"] == child["refresh_token"]
    assert retried["access_token"] == child["access_token"]
    await asyncio.sleep(GRACE_SECONDS + 0.5)
    async with await refresh(parent) as r:
        await assert_error(r, 401, "refresh_token_reused")
    async with client.get("/v1/auth/me", headers=bearer(child["access_token"])) as r:
        await assert_error(r, 401, "unauthenticated")
    async with await refresh(child["refresh_token"]) as r:
        await assert_error(r, 401)
    # The audit entry and the event, written with the revocation (the audit log read as
    # the owner role, which RLS does not restrict).
    sid = _claims(child["access_token"])["sid"]
    async with as_owner(settings) as connection:
        audits = await connection.fetch(
            "SELECT data FROM audit_log WHERE action = 'session.revoked' AND target_id = $1", sid
        )
    assert [orjson.loads(row["data"]) for row in audits] == [{"reason": "refresh_token_reused"}]
    published = await events.settled(settings, owner["tenant"]["id"])
    revoked = [e for e in published if e["type"] == "session.revoked"]
    assert [e["data"] for e in revoked if e["data"]["session_id"] == sid] == [
        {"session_id": sid, "user_id": owner["user"]["id"], "reason": "refresh_token_reused"}
    ]


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_cors_follows_the_allow_list(client: aiohttp.ClientSession) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Origin": ALLOWED_ORIGIN}
    async with client.options("/v1/auth/login", headers=preflight) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
        # Every header the edge reads, the trace context too (it was left out).
        assert {"authorization", "idempotency-key", "x-request-id", "traceparent"} <= allowed
    async with client.options(
        "/v1/auth/login", headers={**preflight, "Origin": "https://evil.example"}
    ) as r:
        assert "Access-Control-Allow-Origin" not in r.headers
    async with client.get("/healthz", headers={"Origin": ALLOWED_ORIGIN}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    async with client.get("/healthz", headers={"Origin": "https://evil.example"}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers
        assert "Origin" in r.headers.getall("Vary")  # a refused origin's answer differs too
    async with client.get("/healthz") as r:
        assert "Origin" in r.headers.getall("Vary")


async def test_cookie_writes_from_an_allowed_origin_pass_the_csrf_check(
    client: aiohttp.ClientSession,
) -> None:
    owner = await open_tenant(client)
    cookie = {"Cookie": f"__Host-idp_access={owner['access_token']}"}
    async with client.post(
        "/v1/auth/logout-all", headers={**cookie, "Origin": "https://evil.example"}
    ) as r:
        await assert_error(r, 403, "csrf_rejected")
    async with client.post(
        "/v1/auth/logout-all", headers={**cookie, "Origin": ALLOWED_ORIGIN}
    ) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
