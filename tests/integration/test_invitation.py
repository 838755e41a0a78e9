"""Completing an invitation through password-reset/confirm (SPEC 4.3)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contracts.auth import LoginRequest
from contracts.sessions import PasswordResetConfirm
from tests.integration.conftest import a_call, new_tenant
from workers.auth import one_time_tokens
from workers.errors import InvalidCredentials, InvalidRequest
from workers.runtime import Runtime
from workers.tables import roles
from workers.users import repository as users

PASSWORD = "a brand new passphrase"


async def test_an_invited_user_sets_a_password_and_becomes_active(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)
    tenant_id, user_id, now = owner.tenant.id, uuid.uuid4(), datetime.now(UTC)
    async with runtime.db.transaction(tenant_id) as uow:
        role_id = (
            await uow.connection.execute(select(roles.c.id).where(roles.c.name == "member"))
        ).scalar_one()
        await users.insert_user(
            uow,
            user_id=user_id,
            tenant_id=tenant_id,
            email="invited@example.com",
            name="Invited",
            password_hash=None,
            status="invited",
            role_id=role_id,
            now=now,
        )
        token = await one_time_tokens.issue(
            uow,
            tenant_id=tenant_id,
            user_id=user_id,
            purpose="invite",
            ttl=timedelta(days=7),
            now=now,
        )
    assert token is not None
    login = LoginRequest(tenant=owner.tenant.slug, email="invited@example.com", password=PASSWORD)
    with pytest.raises(InvalidCredentials):
        await runtime.auth.login(login, a_call())
    with pytest.raises(InvalidRequest):  # the email as password: refused, token kept
        await runtime.passwords.confirm_reset(
            PasswordResetConfirm(token=token, new_password="invited@example.com"), a_call()
        )
    await runtime.passwords.confirm_reset(
        PasswordResetConfirm(token=token, new_password=PASSWORD), a_call()
    )
    result = await runtime.auth.login(login, a_call())
    assert result.user.status == "active"
    assert result.user.email_verified is True
    with pytest.raises(InvalidRequest):
        await runtime.passwords.confirm_reset(
            PasswordResetConfirm(token=token, new_password=PASSWORD), a_call()
        )
