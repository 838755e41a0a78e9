"""The worker's current-role check: cached in Redis, invalidated, never refilled stale."""

import asyncio
import contextvars
from uuid import UUID

import pytest
from sqlalchemy import update

from tests.integration.conftest import new_tenant
from workers.errors import Forbidden, Unauthenticated
from workers.permission_check import CurrentAccess, PermissionCheck
from workers.roles import repository as roles
from workers.runtime import Runtime
from workers.tables import users


async def _set_status(runtime: Runtime, tenant_id: UUID, user_id: UUID, status: str) -> None:
    async with runtime.db.transaction(tenant_id) as uow:
        await uow.connection.execute(
            update(users).where(users.c.id == user_id).values(status=status)
        )


async def test_the_cache_serves_until_invalidated(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)
    check = runtime.permissions
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    first = await check.current(claims)
    assert first == CurrentAccess("owner", first.permissions)
    assert "tenant:manage" in first.permissions
    await _set_status(runtime, owner.tenant.id, owner.user.id, "disabled")
    # Without an invalidation the cached answer stands (proves the hit path skips SQL) ...
    assert (await check.current(claims)).active
    async with runtime.db.transaction(owner.tenant.id) as uow:
        await check.forget_user(uow, owner.tenant.id, owner.user.id)
    # ... and after one, the database's answer is used: 401 for a disabled account.
    with pytest.raises(Unauthenticated):
        await check.current(claims)
    with pytest.raises(Unauthenticated):
        await check.require(claims, "users:read")
    await _set_status(runtime, owner.tenant.id, owner.user.id, "active")
    async with runtime.db.transaction(owner.tenant.id) as uow:
        await check.forget_tenant(uow, owner.tenant.id)
    await check.require(claims, "tenant:manage")


async def test_a_reader_that_raced_a_change_does_not_cache_what_it_read(
    runtime: Runtime,
) -> None:
    owner = await new_tenant(runtime)

    class RacedCheck(PermissionCheck):
        async def _load(self, tenant_id: UUID, user_id: UUID) -> CurrentAccess:
            stale = await super()._load(tenant_id, user_id)
            await self._invalidate(tenant_id, None)  # a change commits while we were reading
            return stale

    raced = RacedCheck(runtime.redis, runtime.db.transaction, 60)
    await runtime.permissions._invalidate(owner.tenant.id, None)
    access = await raced.lookup(owner.tenant.id, owner.user.id)
    assert access.active
    cached = await runtime.redis.hget(f"idp:perms:{owner.tenant.id}", str(owner.user.id))
    assert cached is None
    # An undisturbed reader fills the cache.
    await runtime.permissions.lookup(owner.tenant.id, owner.user.id)
    cached = await runtime.redis.hget(f"idp:perms:{owner.tenant.id}", str(owner.user.id))
    assert cached is not None


async def test_a_permission_outside_the_role_is_forbidden(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    async with runtime.db.transaction(owner.tenant.id) as uow:
        member = await roles.role_by_name(uow, "member")
        assert member is not None
        await uow.connection.execute(
            update(users).where(users.c.id == owner.user.id).values(role_id=member.id)
        )
        await runtime.permissions.forget_user(uow, owner.tenant.id, owner.user.id)
    with pytest.raises(Forbidden):
        await runtime.permissions.require(claims, "users:write")
    await runtime.permissions.require(claims, "files:write")


async def test_a_reader_between_the_change_and_its_commit_leaves_nothing_stale(
    runtime: Runtime,
) -> None:
    """Found by attacking it: a role change inside a message's transaction invalidated
    the cache, then a request of another caller read the still-committed old role and
    cached it under the new epoch, and the change's commit came after both. The admin
    kept writing for minutes. The change now invalidates again once it has committed."""
    owner = await new_tenant(runtime)
    tenant, user = owner.tenant.id, owner.user.id
    key = f"idp:perms:{tenant}"
    async with runtime.db.message_transaction(tenant) as uow:
        member = await roles.role_by_name(uow, "member")
        assert member is not None
        await uow.connection.execute(
            update(users).where(users.c.id == user).values(role_id=member.id)
        )
        await runtime.permissions.forget_user(uow, tenant, user)
        # Another request, on another connection (a fresh context: not this transaction),
        # reads the committed rows: the old role, and caches it.
        reader = asyncio.create_task(
            runtime.permissions.lookup(tenant, user), context=contextvars.Context()
        )
        assert (await reader).role == "owner"
        assert await runtime.redis.hget(key, str(user)) is not None
    assert await runtime.redis.hget(key, str(user)) is None
    assert (await runtime.permissions.lookup(tenant, user)).role == "member"


async def test_the_cache_fills_again_after_redis_forgot_its_script(runtime: Runtime) -> None:
    """The fill goes by SHA (EVALSHA): after a Redis restart's empty script cache it loads
    the script again, and the filled entry then serves without SQL."""
    owner = await new_tenant(runtime)
    check = runtime.permissions
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    async with runtime.db.transaction(owner.tenant.id) as uow:
        await check.forget_user(uow, owner.tenant.id, owner.user.id)
    await runtime.redis.script_flush()
    assert (await check.current(claims)).active  # read from PostgreSQL, cached by the script
    await _set_status(runtime, owner.tenant.id, owner.user.id, "disabled")
    assert (await check.current(claims)).active  # the cached entry, so the fill did run
