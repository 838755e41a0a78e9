"""A user's row is locked before the rows that belong to it, in every flow: a token flow
or a file upload racing a change to its user (disable, delete, password change) queues
behind it instead of deadlocking (PostgreSQL aborts one side after ``deadlock_timeout``,
1 s: a 503 after a second), and a row of a user deleted meanwhile is never inserted (a
foreign key violation, redelivered as an unexpected error).

Each test holds a user's row the way a change to that user does (``lock_users``), lets
the racing flow get as far as it can, then does what the change does next. Before the
fix, that next step waited for the racing flow, which waited for the change."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.auth import LoginResult
from contracts.files import CreateFileRequest
from contracts.sessions import PasswordResetConfirm
from tests.integration.conftest import a_call, new_tenant
from workers.auth import one_time_tokens
from workers.auth.one_time_tokens import SET_PASSWORD_TOKENS
from workers.context import Call
from workers.errors import InvalidRequest, Unauthenticated
from workers.runtime import Runtime
from workers.users import repository as users

# Well under deadlock_timeout (1 s): the change's next step must not wait for the racer.
PROMPTLY = 0.8
RACER_HEAD_START = 0.3


async def _reset_token(runtime: Runtime, owner: LoginResult) -> str:
    now = datetime.now(UTC)
    async with runtime.db.transaction(owner.tenant.id) as uow:
        token = await one_time_tokens.issue(
            uow,
            tenant_id=owner.tenant.id,
            user_id=owner.user.id,
            purpose="password_reset",
            ttl=timedelta(hours=1),
            now=now,
        )
    assert token is not None
    return token


async def test_a_token_issued_while_its_user_changes_waits_for_the_change(
    runtime: Runtime,
) -> None:
    owner = await new_tenant(runtime)
    await _reset_token(runtime, owner)  # an earlier token, which the next one voids
    now = datetime.now(UTC)

    async def issue() -> str | None:
        async with runtime.db.transaction(owner.tenant.id) as uow:
            return await one_time_tokens.issue(
                uow,
                tenant_id=owner.tenant.id,
                user_id=owner.user.id,
                purpose="password_reset",
                ttl=timedelta(hours=1),
                now=now,
            )

    async with runtime.db.transaction(owner.tenant.id) as change:
        await users.lock_users(change, [owner.user.id])
        issuing = asyncio.create_task(issue())
        await asyncio.sleep(RACER_HEAD_START)
        assert not issuing.done()  # it waits for the change
        async with asyncio.timeout(PROMPTLY):
            await one_time_tokens.void(change, owner.user.id, SET_PASSWORD_TOKENS, now)
    assert await issuing is not None  # the user is still there: a token, after the change


async def test_a_token_redeemed_while_its_user_changes_waits_for_the_change(
    runtime: Runtime,
) -> None:
    owner = await new_tenant(runtime)
    token = await _reset_token(runtime, owner)
    confirm = PasswordResetConfirm(token=token, new_password="another long passphrase")
    async with runtime.db.transaction(owner.tenant.id) as change:
        await users.lock_users(change, [owner.user.id])
        confirming = asyncio.create_task(runtime.passwords.confirm_reset(confirm, a_call()))
        await asyncio.sleep(RACER_HEAD_START + 0.2)  # it hashes the new password first
        assert not confirming.done()
        async with asyncio.timeout(PROMPTLY):  # the change voids the user's reset tokens
            await one_time_tokens.void(
                change, owner.user.id, SET_PASSWORD_TOKENS, datetime.now(UTC)
            )
    with pytest.raises(InvalidRequest):  # voided by the change it waited for
        await confirming


async def test_a_token_for_a_user_deleted_meanwhile_is_not_issued(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)

    async def issue() -> str | None:
        async with runtime.db.transaction(owner.tenant.id) as uow:
            return await one_time_tokens.issue(
                uow,
                tenant_id=owner.tenant.id,
                user_id=owner.user.id,
                purpose="verify_email",
                ttl=timedelta(hours=1),
                now=datetime.now(UTC),
            )

    async with runtime.db.transaction(owner.tenant.id) as change:
        await users.lock_users(change, [owner.user.id])
        issuing = asyncio.create_task(issue())
        await asyncio.sleep(RACER_HEAD_START)
        await change.execute("DELETE FROM users WHERE id = $1", owner.user.id)
    assert await issuing is None


async def test_a_file_created_by_a_user_deleted_meanwhile_is_401_not_a_broken_insert(
    with_storage: Runtime,
) -> None:
    runtime = with_storage
    owner = await new_tenant(runtime)
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    call = Call(str(uuid.uuid4()), None, a_call().client, claims)
    request = CreateFileRequest(filename="notes.txt", content_type="text/plain", size=3)
    async with runtime.db.transaction(owner.tenant.id) as change:
        await users.lock_users(change, [owner.user.id])
        creating = asyncio.create_task(runtime.files.create(request, call))
        await asyncio.sleep(RACER_HEAD_START)
        await change.execute("DELETE FROM users WHERE id = $1", owner.user.id)
    with pytest.raises(Unauthenticated):
        await creating
