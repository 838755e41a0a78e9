"""Nothing usable at rest: the session row and Redis, read with the owner's eyes (SPEC 4.4)."""

import asyncpg
import pytest
from redis.asyncio import Redis

from contracts.auth import RefreshRequest
from idp.security import grace
from idp.security.tokens import TokenError, refresh_token_hash
from idp.settings import Settings, asyncpg_dsn
from tests.integration.conftest import a_call, new_tenant
from workers.errors import DomainError
from workers.runtime import Runtime


async def test_the_grace_blob_opens_only_with_the_parent_token(
    runtime: Runtime, settings: Settings
) -> None:
    owner = await new_tenant(runtime)
    parent = owner.refresh_token or ""
    child = await runtime.auth.refresh(RefreshRequest(refresh_token=parent), a_call())
    sid = runtime.authenticator.codec.verify_refresh(parent).sid
    # The owner role bypasses RLS: this is what a database reader (or a backup) sees.
    connection = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        row = await connection.fetchrow("SELECT * FROM sessions WHERE id = $1", sid)
    finally:
        await connection.close()
    assert row is not None
    stored = {key: value for key, value in dict(row).items() if isinstance(value, bytes | str)}
    secrets = [parent, child.refresh_token or "", child.access_token or ""]
    for value in stored.values():
        raw = value if isinstance(value, bytes) else value.encode()
        for secret in secrets:
            assert secret.encode() not in raw
            for part in secret.split("."):  # not even a JWT segment
                assert part.encode() not in raw
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
