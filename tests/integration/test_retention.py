"""What ended goes (migration 0014, workers/maintenance.py, the files sweeper): a soak
audit found the outbox, ended sessions and spent tokens kept forever, and the sweeper
falling behind abandoned uploads."""

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from contracts.auth import LoginRequest
from contracts.files import CreateFileRequest
from idp.settings import Settings, asyncpg_dsn
from tests.integration.conftest import a_call, new_tenant
from tests.integration.test_outbox import _publish_pending
from workers.auth import one_time_tokens
from workers.context import Call
from workers.files import service as file_service
from workers.maintenance import RETENTION, prune
from workers.runtime import Runtime


async def _as_owner(settings: Settings, sql: str, *args: object) -> object:
    """A statement as the owner role (past RLS): to age rows, and to count them."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_ended_sessions_and_spent_tokens_go_a_day_after_they_ended(
    runtime: Runtime, settings: Settings
) -> None:
    owner = await new_tenant(runtime)
    tenant_id, user_id, now = owner.tenant.id, owner.user.id, datetime.now(UTC)
    login = LoginRequest(
        tenant=owner.tenant.slug, email="owner@example.com", password="a long enough passphrase"
    )
    ended_long_ago = await runtime.auth.login(login, a_call())
    ended_today = await runtime.auth.login(login, a_call())
    for result in (ended_long_ago, ended_today):
        claims = runtime.authenticator.codec.verify_access(result.access_token or "")
        await runtime.auth.logout(Call(str(uuid.uuid4()), None, a_call().client, claims))
    week = timedelta(days=7)
    async with runtime.db.transaction(tenant_id) as uow:
        spent = await one_time_tokens.issue(
            uow, tenant_id=tenant_id, user_id=user_id, purpose="verify_email", ttl=week, now=now
        )
        live = await one_time_tokens.issue(
            uow, tenant_id=tenant_id, user_id=user_id, purpose="password_reset", ttl=week, now=now
        )
        assert spent is not None
        assert live is not None
        assert await one_time_tokens.redeem(uow, spent, ("verify_email",), now)
    long_ago = now - RETENTION - timedelta(minutes=5)
    old_sid = runtime.authenticator.codec.verify_access(ended_long_ago.access_token or "").sid
    await _as_owner(
        settings, "UPDATE sessions SET revoked_at = $1 WHERE id = $2", long_ago, old_sid
    )
    await _as_owner(
        settings,
        "UPDATE one_time_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NOT NULL",
        long_ago,
        user_id,
    )

    pruned = await prune(runtime.db)

    assert pruned["sessions"] >= 1
    assert pruned["one_time_tokens"] >= 1
    sessions = await _as_owner(
        settings, "SELECT array_agg(id) FROM sessions WHERE tenant_id = $1", tenant_id
    )
    assert isinstance(sessions, list)
    assert old_sid not in sessions  # ended more than a day ago
    assert len(sessions) == 2  # the sign-up's (live) and the one ended today
    tokens = await _as_owner(
        settings, "SELECT array_agg(purpose) FROM one_time_tokens WHERE user_id = $1", user_id
    )
    assert tokens == ["password_reset"]  # the spent one went; the live one stays


async def test_a_published_event_leaves_the_outbox_with_the_token_it_carried(
    runtime: Runtime, settings: Settings
) -> None:
    """The reset event holds its token in clear text, for a mailer: once the broker has
    it, no copy stays in the database."""
    owner = await new_tenant(runtime)
    await _publish_pending(runtime, settings)
    remaining = await _as_owner(
        settings, "SELECT count(*) FROM outbox WHERE tenant_id = $1", owner.tenant.id
    )
    assert remaining == 0


async def test_the_sweeper_works_through_a_backlog_in_one_run(
    with_storage: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch per interval fell behind anything above 3.3 abandoned uploads a second."""
    runtime = with_storage
    monkeypatch.setattr(file_service, "SWEEP_BATCH", 2)
    owner = await new_tenant(runtime)
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    call = Call(str(uuid.uuid4()), None, a_call().client, claims)
    request = CreateFileRequest(filename="notes.txt", content_type="text/plain", size=3)
    created = [(await runtime.files.create(request, call)).file.id for _ in range(7)]
    later = datetime.now(UTC) + timedelta(seconds=runtime.settings.pending_upload_ttl + 60)
    assert await runtime.files.sweep_expired(later) >= len(created)
    left = await _as_owner(
        runtime.settings,
        "SELECT count(*) FROM files WHERE id = ANY($1::uuid[])",
        created,
    )
    assert left == 0
