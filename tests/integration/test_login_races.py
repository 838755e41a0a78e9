"""A login that checked the password before a reset, a change or a disabling committed
must not open a session that outlives them (found by attacking it: sessions opened with
the old password in the milliseconds around a reset survived it and kept refreshing)."""

import asyncio
import contextvars
from uuid import UUID

import pytest

from contracts.auth import LoginRequest
from tests.integration.conftest import a_call, new_tenant
from workers.auth import repository as sessions
from workers.errors import InvalidCredentials
from workers.runtime import Runtime

PASSWORD = "a long enough passphrase"


async def _live_sessions(runtime: Runtime, tenant_id: UUID, user_id: UUID) -> int:
    async with runtime.db.transaction(tenant_id) as uow:
        return len(await sessions.live_session_ids(uow, user_id))


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE users SET password_hash = 'replaced' WHERE id = $1",  # a reset or a change
        "UPDATE users SET status = 'disabled' WHERE id = $1",  # a disabling
    ],
)
async def test_a_login_that_raced_a_committed_change_opens_no_session(
    runtime: Runtime, change: str
) -> None:
    owner = await new_tenant(runtime)
    tenant_id, user_id = owner.tenant.id, owner.user.id
    before = await _live_sessions(runtime, tenant_id, user_id)
    request = LoginRequest(tenant=owner.tenant.slug, email="owner@example.com", password=PASSWORD)
    async with runtime.db.transaction(tenant_id) as uow:
        await uow.execute(change, user_id)  # holds the row's lock, as those changes do
        # Another request (a fresh context: not this transaction) logs in meanwhile: it
        # reads the committed account, checks the old password, then waits for the row.
        login = asyncio.create_task(
            runtime.auth.login(request, a_call()), context=contextvars.Context()
        )
        await asyncio.sleep(1.0)
        assert not login.done()  # waiting on the row lock, past the password check
    with pytest.raises(InvalidCredentials):
        await login
    assert await _live_sessions(runtime, tenant_id, user_id) == before


async def test_a_login_without_a_race_still_opens_its_session(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)
    request = LoginRequest(tenant=owner.tenant.slug, email="owner@example.com", password=PASSWORD)
    before = await _live_sessions(runtime, owner.tenant.id, owner.user.id)
    result = await runtime.auth.login(request, a_call())
    assert result.user.id == owner.user.id
    assert await _live_sessions(runtime, owner.tenant.id, owner.user.id) == before + 1
