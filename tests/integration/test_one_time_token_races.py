"""Single-use tokens under concurrency (a lifecycle audit): at most one live token per
purpose, none surviving a disabling, and a bounded number of reset mails."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.auth import LoginRequest, LoginResult
from contracts.sessions import PasswordResetRequest
from contracts.users import CreateUserRequest, UpdateUserRequest
from idp.settings import Settings
from tests.integration.conftest import a_call, new_tenant
from tests.support.database import as_owner
from workers.auth.throttle import RESET_MAILS_PER_HOUR
from workers.context import Call
from workers.runtime import Runtime
from workers.users import repository as users


def _as(runtime: Runtime, owner: LoginResult) -> Call:
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    return Call(request_id="r", message_id=None, client=a_call().client, principal=claims)


async def _member(runtime: Runtime, owner: LoginResult) -> tuple[uuid.UUID, str]:
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    request = CreateUserRequest(
        email=email, name="Member", role="member", password="a long enough passphrase"
    )
    user = await runtime.users.create(request, _as(runtime, owner))
    return user.id, email


async def _live_tokens(settings: Settings, user_id: uuid.UUID, purpose: str) -> int:
    async with as_owner(settings) as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = $2"
            " AND used_at IS NULL AND expires_at > $3",
            user_id,
            purpose,
            datetime.now(UTC),
        )
    return count


async def _issued(settings: Settings, user_id: uuid.UUID, purpose: str) -> int:
    async with as_owner(settings) as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = $2",
            user_id,
            purpose,
        )
    return count


async def test_reset_requests_at_once_leave_one_live_token(
    runtime: Runtime, settings: Settings
) -> None:
    """Each issuer voids the earlier tokens, but under a lock that did not keep a second
    issuer out, neither saw the other's: up to 10 of 10 parallel mails stayed usable."""
    owner = await new_tenant(runtime)
    request = PasswordResetRequest(tenant=owner.tenant.slug, email=owner.user.email)
    await asyncio.gather(
        *(runtime.passwords.request_reset(request, a_call()) for _ in range(RESET_MAILS_PER_HOUR))
    )
    assert await _issued(settings, owner.user.id, "password_reset") == RESET_MAILS_PER_HOUR
    assert await _live_tokens(settings, owner.user.id, "password_reset") == 1


async def test_a_reset_racing_a_disabling_leaves_no_token_to_revive(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request read the user (active) before the disabling committed, then inserted
    its token after the disabling had voided the others: re-enabling the user revived the
    link (25 of 30 rounds). The issuer now reads the status again under the row's lock."""
    owner = await new_tenant(runtime)
    member_id, email = await _member(runtime, owner)
    looked_up, go_on = asyncio.Event(), asyncio.Event()
    read = users.user_by_email

    async def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        looked_up.set()
        await go_on.wait()
        return found

    monkeypatch.setattr(users, "user_by_email", read_then_wait)
    request = PasswordResetRequest(tenant=owner.tenant.slug, email=email)
    racing = asyncio.create_task(runtime.passwords.request_reset(request, a_call()))
    await looked_up.wait()
    admin = _as(runtime, owner)
    await runtime.users.update(UpdateUserRequest(id=str(member_id), status="disabled"), admin)
    go_on.set()
    await racing
    await runtime.users.update(UpdateUserRequest(id=str(member_id), status="active"), admin)
    assert await _live_tokens(settings, member_id, "password_reset") == 0


async def test_reset_mails_to_one_account_are_bounded_per_hour(
    runtime: Runtime, settings: Settings
) -> None:
    """Each mail voids the link before it: without a bound anyone could flood a mailbox
    and keep killing the link its owner is about to click. The requests are still 202."""
    owner = await new_tenant(runtime)
    request = PasswordResetRequest(tenant=owner.tenant.slug, email=owner.user.email)
    for _ in range(RESET_MAILS_PER_HOUR + 3):
        await runtime.passwords.request_reset(request, a_call())
    assert await _issued(settings, owner.user.id, "password_reset") == RESET_MAILS_PER_HOUR
    assert await _live_tokens(settings, owner.user.id, "password_reset") == 1


async def test_disabling_voids_a_verification_mail_too(
    runtime: Runtime, settings: Settings
) -> None:
    owner = await new_tenant(runtime)
    member_id, email = await _member(runtime, owner)
    login = await runtime.auth.login(
        LoginRequest(tenant=owner.tenant.slug, email=email, password="a long enough passphrase"),
        a_call(),
    )
    await runtime.passwords.request_verification(_as(runtime, login))
    assert await _live_tokens(settings, member_id, "verify_email") == 1
    admin = _as(runtime, owner)
    await runtime.users.update(UpdateUserRequest(id=str(member_id), status="disabled"), admin)
    await runtime.users.update(UpdateUserRequest(id=str(member_id), status="active"), admin)
    assert await _live_tokens(settings, member_id, "verify_email") == 0
