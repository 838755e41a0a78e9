"""Redis losing its data never turns a revoked token back into a valid one."""

import pytest

from idp.security.revocation import READY_KEY, RevocationUnavailable
from idp.settings import Settings
from tests.integration.conftest import a_call, new_tenant
from workers.context import Call
from workers.revocation_sync import restore_if_lost
from workers.runtime import Runtime


async def test_lost_records_fail_closed_until_restored_from_postgres(
    runtime: Runtime, settings: Settings
) -> None:
    ended, live = await new_tenant(runtime), await new_tenant(runtime)
    codec = runtime.authenticator.codec
    ended_claims = codec.verify_access(ended.access_token or "")
    live_claims = codec.verify_access(live.access_token or "")
    call = a_call()
    await runtime.auth.logout(Call(call.request_id, None, call.client, ended_claims))
    assert await runtime.revocations.is_revoked(ended_claims.sid)

    # Redis loses everything we wrote (a restart without persistence).
    await runtime.redis.delete(f"idp:revoked:session:{ended_claims.sid}", READY_KEY)
    with pytest.raises(RevocationUnavailable):
        await runtime.authenticator.authenticate(ended.access_token)
    with pytest.raises(RevocationUnavailable):
        await runtime.authenticator.authenticate(live.access_token)

    ttl = settings.access_token_ttl + settings.jwt_leeway_seconds
    assert await restore_if_lost(runtime.db, runtime.revocations, ttl) is True
    assert await runtime.revocations.is_revoked(ended_claims.sid)
    assert not await runtime.revocations.is_revoked(live_claims.sid)
    assert 0 < await runtime.redis.ttl(f"idp:revoked:session:{ended_claims.sid}") <= ttl
    assert (await runtime.authenticator.authenticate(live.access_token)).sub == live.user.id
    assert await restore_if_lost(runtime.db, runtime.revocations, ttl) is False
