"""A refresh's compare-and-set rotation (migration 0009) on the real PostgreSQL.

The usual refresh reads its session without a lock and rotates it only while the
presented token is still the current one; anything else falls back to the locked path.
These tests force the races that path exists for, rather than hoping to hit them.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts.auth import RefreshRequest
from idp.security.tokens import refresh_token_hash
from tests.integration.conftest import a_call, new_tenant
from workers.auth import repository as sessions
from workers.runtime import Runtime
from workers.uow import Database


def _session_of(runtime: Runtime, refresh_token: str) -> tuple[UUID, UUID]:
    claims = runtime.authenticator.codec.verify_refresh(refresh_token)
    return claims.tid, claims.sid


async def _stored_hashes(db: Database, tenant_id: UUID, session_id: UUID) -> tuple[Any, ...]:
    async with db.transaction(tenant_id) as uow:
        row = await uow.fetchrow(
            "SELECT refresh_hash, previous_hash, revoked_at FROM sessions WHERE id = $1",
            session_id,
        )
    assert row is not None
    return tuple(row)


async def test_parallel_refreshes_that_all_read_first_rotate_once_and_share_the_child(
    runtime: Runtime, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await new_tenant(runtime)
    token = owner.refresh_token or ""
    tenant_id, session_id = _session_of(runtime, token)
    parallel = 4
    # Every refresh finishes its unlocked read before any of them tries to rotate.
    barrier = asyncio.Barrier(parallel)
    outcomes: list[bool] = []
    read, swap = sessions.session_and_owner, sessions.rotate_if_current

    async def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        await barrier.wait()
        return found

    async def swap_and_record(*args: Any, **kwargs: Any) -> bool:
        outcome = await swap(*args, **kwargs)
        outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(sessions, "session_and_owner", read_then_wait)
    monkeypatch.setattr(sessions, "rotate_if_current", swap_and_record)
    results = await asyncio.gather(
        *(
            runtime.auth.refresh(RefreshRequest(refresh_token=token), a_call())
            for _ in range(parallel)
        )
    )

    assert sorted(outcomes) == [False] * (parallel - 1) + [True]
    # The losers went through the locked path and got the winner's pair from the grace blob.
    assert len({r.refresh_token for r in results}) == 1
    assert len({r.access_token for r in results}) == 1
    child = results[0].refresh_token or ""
    assert child != token
    current, previous, revoked_at = await _stored_hashes(db, tenant_id, session_id)
    assert current == refresh_token_hash(child)
    assert previous == refresh_token_hash(token)
    assert revoked_at is None


async def test_the_compare_and_set_changes_nothing_unless_the_token_is_current(
    runtime: Runtime, db: Database
) -> None:
    owner, other = await new_tenant(runtime), await new_tenant(runtime)
    token = owner.refresh_token or ""
    tenant_id, session_id = _session_of(runtime, token)
    presented = refresh_token_hash(token)
    now = datetime.now(UTC)

    async def swap(tenant: UUID, previous: bytes, new: bytes, at: datetime = now) -> bool:
        rotation = sessions.Rotation(
            new_hash=new,
            previous_hash=previous,
            grace_blob=b"blob",
            now=at,
            user_agent=None,
            ip=None,
        )
        return await sessions.rotate_if_current(db, tenant, session_id, rotation)

    # Another tenant's binding sees no such session (RLS), whatever it presents.
    assert not await swap(other.tenant.id, presented, b"\x01" * 32)
    # A hash that is not the current one: nothing changes.
    assert not await swap(tenant_id, b"\x02" * 32, b"\x03" * 32)
    # Past the session's end: nothing changes.
    assert not await swap(tenant_id, presented, b"\x04" * 32, now + timedelta(days=400))
    assert (await _stored_hashes(db, tenant_id, session_id))[:2] == (presented, None)

    assert await swap(tenant_id, presented, b"\x05" * 32)
    # The same token again: spent, so the second swap of it loses.
    assert not await swap(tenant_id, presented, b"\x06" * 32)
    assert (await _stored_hashes(db, tenant_id, session_id))[:2] == (b"\x05" * 32, presented)

    async with db.transaction(tenant_id) as uow:
        await uow.execute("UPDATE sessions SET revoked_at = now() WHERE id = $1", session_id)
    # An ended session never rotates again, even with its current hash.
    assert not await swap(tenant_id, b"\x05" * 32, b"\x07" * 32)
