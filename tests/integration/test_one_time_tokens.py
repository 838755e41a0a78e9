"""One-time tokens: single use, expiry, purpose, and tenant scoping."""

from datetime import UTC, datetime, timedelta

from tests.integration.conftest import new_tenant
from workers.auth import one_time_tokens
from workers.runtime import Runtime


async def test_a_token_works_once_for_its_purpose_within_its_lifetime(runtime: Runtime) -> None:
    owner = await new_tenant(runtime)
    tenant, user = owner.tenant.id, owner.user.id
    now = datetime.now(UTC)
    async with runtime.db.transaction(tenant) as uow:
        token = await one_time_tokens.issue(
            uow,
            tenant_id=tenant,
            user_id=user,
            purpose="password_reset",
            ttl=timedelta(hours=1),
            now=now,
        )
        stale = await one_time_tokens.issue(
            uow,
            tenant_id=tenant,
            user_id=user,
            purpose="verify_email",
            ttl=timedelta(seconds=1),
            now=now - timedelta(seconds=5),
        )
    assert token is not None
    assert stale is not None
    assert one_time_tokens.tenant_of(token) == tenant
    async with runtime.db.transaction(tenant) as uow:
        assert await one_time_tokens.redeem(uow, token, ("verify_email",), now) is None
        assert await one_time_tokens.redeem(uow, stale, ("verify_email",), now) is None
        redeemed = await one_time_tokens.redeem(uow, token, ("password_reset", "invite"), now)
        assert redeemed is not None
        assert redeemed.user_id == user
        assert await one_time_tokens.redeem(uow, token, ("password_reset",), now) is None


async def test_a_token_is_invisible_from_another_tenant(runtime: Runtime) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime)
    now = datetime.now(UTC)
    async with runtime.db.transaction(a.tenant.id) as uow:
        token = await one_time_tokens.issue(
            uow,
            tenant_id=a.tenant.id,
            user_id=a.user.id,
            purpose="password_reset",
            ttl=timedelta(hours=1),
            now=now,
        )
    assert token is not None
    async with runtime.db.transaction(b.tenant.id) as uow:
        assert await one_time_tokens.redeem(uow, token, ("password_reset",), now) is None
    async with runtime.db.transaction(a.tenant.id) as uow:
        assert await one_time_tokens.redeem(uow, token, ("password_reset",), now) is not None


def test_malformed_tokens_name_no_tenant() -> None:
    assert one_time_tokens.tenant_of("") is None
    assert one_time_tokens.tenant_of("abc.def") is None
    assert one_time_tokens.tenant_of("not-a-uuid." + "x" * 43) is None
