"""Nothing usable at rest: the session row and Redis, read with the owner's eyes (SPEC 4.4)."""

import uuid
from dataclasses import replace

import asyncpg
import pytest
from redis.asyncio import Redis

from contracts.auth import LoginRequest, RefreshRequest
from idp.security import grace
from idp.security.tokens import TokenError, refresh_token_hash
from idp.settings import Settings
from tests.integration.conftest import a_call, new_tenant
from tests.support.database import as_owner
from workers.errors import DomainError
from workers.runtime import Runtime


async def _session_row(settings: Settings, sid: uuid.UUID) -> asyncpg.Record:
    """The session row as the owner role sees it: it bypasses RLS, as a database reader
    (or a backup) would."""
    async with as_owner(settings) as connection:
        row = await connection.fetchrow("SELECT * FROM sessions WHERE id = $1", sid)
    assert row is not None
    return row


def _assert_holds_no_token(row: asyncpg.Record, tokens: list[str]) -> None:
    """No stored value holds any of ``tokens``, nor even one of their JWT segments."""
    for value in dict(row).values():
        if not isinstance(value, bytes | str):
            continue
        raw = value if isinstance(value, bytes) else value.encode()
        for token in tokens:
            assert token.encode() not in raw
            for part in token.split("."):
                assert part.encode() not in raw


async def test_the_grace_blob_opens_only_with_the_parent_token(
    runtime: Runtime, settings: Settings
) -> None:
    owner = await new_tenant(runtime)
    parent = owner.refresh_token or ""
    child = await runtime.auth.refresh(RefreshRequest(refresh_token=parent), a_call())
    sid = runtime.authenticator.codec.verify_refresh(parent).sid
    row = await _session_row(settings, sid)
    stored = {key: value for key, value in dict(row).items() if isinstance(value, bytes | str)}
    _assert_holds_no_token(row, [parent, child.refresh_token or "", child.access_token or ""])
    assert row["refresh_hash"] == refresh_token_hash(child.refresh_token or "")
    assert row["previous_hash"] == refresh_token_hash(parent)
    blob = row["grace_blob"]
    # No stored value opens the blob, nor does anything derived from what is stored.
    for key in [*stored.values(), str(sid), row["refresh_hash"].hex(), row["previous_hash"].hex()]:
        candidate = key.decode("latin-1") if isinstance(key, bytes) else key
        assert grace.unseal(candidate, sid, blob) is None
    # The parent token does: that is what the grace window uses.
    opened = grace.unseal(parent, sid, blob)
    assert opened is not None
    assert opened.refresh_token == child.refresh_token
    # Presenting what is stored as a refresh token gets nowhere.
    for value in (row["refresh_hash"].hex(), row["previous_hash"].hex(), blob.hex()):
        with pytest.raises((DomainError, TokenError)):
            await runtime.auth.refresh(RefreshRequest(refresh_token=value), a_call())


async def test_redis_holds_no_token(runtime: Runtime, settings: Settings) -> None:
    owner = await new_tenant(runtime)
    parent = owner.refresh_token or ""
    child = await runtime.auth.refresh(RefreshRequest(refresh_token=parent), a_call())
    redis: Redis = Redis.from_url(settings.redis_url)
    try:
        keys: list[bytes] = [key async for key in redis.scan_iter(count=1000)]
        dumped = b"".join(keys)
        for key in keys:
            kind = await redis.type(key)
            if kind == b"string":
                value = await redis.get(key)
                dumped += value if isinstance(value, bytes) else b""
            elif kind == b"hash":
                fields: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[assignment]
                dumped += b"".join(k + v for k, v in fields.items())
    finally:
        await redis.aclose()
    for secret in (parent, child.refresh_token or "", child.access_token or ""):
        assert secret.encode() not in dumped


async def test_a_session_opened_by_a_message_keeps_a_seed_that_is_no_token(
    runtime: Runtime, settings: Settings
) -> None:
    """A login with a message id stores what signs its pair again (SPEC 5: applied once):
    the message's hash and the jti seed. Neither is a token, nor a piece of one, and the
    pair comes back only through the service, which holds the secrets and checks the
    password again."""
    owner = await new_tenant(runtime)
    login = LoginRequest(
        tenant=owner.tenant.slug, email="owner@example.com", password="a long enough passphrase"
    )
    call = replace(a_call(), message_id=uuid.uuid4().hex)
    first = await runtime.auth.login(login, call)
    sid = runtime.authenticator.codec.verify_refresh(first.refresh_token or "").sid
    row = await _session_row(settings, sid)
    assert row["opened_by"] is not None
    assert len(row["token_seed"]) == 32
    _assert_holds_no_token(row, [first.refresh_token or "", first.access_token or ""])
    # Presenting what is stored as a refresh token gets nowhere.
    for value in (row["token_seed"].hex(), row["opened_by"].hex()):
        with pytest.raises((DomainError, TokenError)):
            await runtime.auth.refresh(RefreshRequest(refresh_token=value), a_call())
    again = await runtime.auth.login(login, call)
    assert (again.access_token, again.refresh_token) == (first.access_token, first.refresh_token)
