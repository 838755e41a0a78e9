"""Redis losing its data never turns a revoked token back into a valid one."""

import asyncio
import uuid
from collections.abc import Callable

import pytest
from redis.asyncio.client import Pipeline

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

    ttl = settings.revocation_ttl_seconds
    assert await restore_if_lost(runtime.db, runtime.revocations, ttl) is True
    assert await runtime.revocations.is_revoked(ended_claims.sid)
    assert not await runtime.revocations.is_revoked(live_claims.sid)
    assert 0 < await runtime.redis.ttl(f"idp:revoked:session:{ended_claims.sid}") <= ttl
    assert (await runtime.authenticator.authenticate(live.access_token)).sub == live.user.id
    assert await restore_if_lost(runtime.db, runtime.revocations, ttl) is False


async def _mget_calls(runtime: Runtime) -> int:
    stats = await runtime.redis.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_checks_asked_together_share_one_round_trip_and_keep_their_verdicts(
    runtime: Runtime,
) -> None:
    ended = [uuid.uuid4() for _ in range(20)]
    live = [uuid.uuid4() for _ in range(20)]
    await runtime.revocations.revoke(ended)
    asked = [*ended, *live, *ended[:5]]  # a session asked twice in one batch
    before = await _mget_calls(runtime)
    verdicts = await asyncio.gather(*(runtime.revocations.is_revoked(sid) for sid in asked))
    calls = await _mget_calls(runtime) - before
    assert verdicts == [True] * 20 + [False] * 20 + [True] * 5
    assert 1 <= calls < len(asked)  # shared (one MGET here), never one per check


async def test_a_batch_fails_closed_together_when_the_records_are_incomplete(
    runtime: Runtime,
) -> None:
    await runtime.redis.delete(READY_KEY)
    try:
        results = await asyncio.gather(
            *(runtime.revocations.is_revoked(uuid.uuid4()) for _ in range(10)),
            return_exceptions=True,
        )
        assert all(isinstance(result, RevocationUnavailable) for result in results)
    finally:
        await runtime.redis.set(READY_KEY, b"1")


async def test_checks_with_their_own_commands_get_their_own_results_from_the_shared_trip(
    runtime: Runtime,
) -> None:
    ended, live = uuid.uuid4(), uuid.uuid4()
    await runtime.revocations.revoke([ended])
    tag = uuid.uuid4().hex
    for i in range(6):
        await runtime.redis.set(f"test:{tag}:{i}", f"value-{i}")

    def reads(i: int) -> Callable[[Pipeline], None]:
        def queue(pipe: Pipeline) -> None:
            pipe.get(f"test:{tag}:{i}")
            pipe.strlen(f"test:{tag}:{i}")

        return queue

    sessions = [ended, live, None, ended, live, None]
    checks = [
        runtime.revocations.is_revoked_with(sid, reads(i))
        if sid is not None
        else runtime.revocations.is_revoked(live)  # a plain check in the same batch
        for i, sid in enumerate(sessions)
    ]
    results = await asyncio.gather(*checks)
    for i, (sid, result) in enumerate(zip(sessions, results, strict=True)):
        if sid is None:
            assert result is False
        else:
            assert result == (sid == ended, [f"value-{i}".encode(), len(f"value-{i}")])
