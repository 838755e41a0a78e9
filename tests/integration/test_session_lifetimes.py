"""What a session reports about its lifetimes, against a clock the test moves: a grace
replay's pair and the live-session list (both found by a tokens audit)."""

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from contracts.auth import LoginResult, RefreshRequest
from idp.settings import Settings
from tests.integration.conftest import a_call, new_tenant
from workers.context import Call
from workers.errors import Unauthenticated
from workers.runtime import Runtime


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def moved(settings: Settings, clock: Callable[[], datetime]) -> AsyncIterator[Runtime]:
    """A runtime whose workers' clock is the test's."""
    runtime = Runtime.open(settings, clock=clock)
    yield runtime
    await runtime.close()


def _as(runtime: Runtime, owner: LoginResult) -> Call:
    claims = runtime.authenticator.codec.verify_access(owner.access_token or "")
    return Call(request_id="r", message_id=None, client=a_call().client, principal=claims)


async def test_a_grace_replay_reports_what_the_pair_has_left(
    moved: Runtime, settings: Settings, clock: Clock
) -> None:
    """The child pair handed back within the grace window said the lifetimes it had at
    the rotation: 8 s later, a client was told 60 s where 52 were left, and scheduled
    its refresh after its access token had expired."""
    owner = await new_tenant(moved)
    parent = RefreshRequest(refresh_token=owner.refresh_token)
    child = await moved.auth.refresh(parent, a_call())
    assert child.expires_in == settings.access_token_ttl
    assert child.refresh_expires_in is not None
    issued = time.time()
    clock.advance(8)
    again = await moved.auth.refresh(parent, a_call())
    assert again.access_token == child.access_token
    assert again.refresh_token == child.refresh_token
    waited = 8 + (time.time() - issued)
    assert abs(again.expires_in - (settings.access_token_ttl - waited)) <= 1.5
    assert again.refresh_expires_in is not None
    assert abs(again.refresh_expires_in - (child.refresh_expires_in - waited)) <= 1.5


async def test_an_idle_session_whose_refresh_token_expired_is_not_live(
    moved: Runtime, settings: Settings, clock: Clock
) -> None:
    """Nothing can revive a session whose last refresh token has expired, yet it was
    listed as live until its absolute end (up to 23 more days with the defaults).
    ``expires_at`` is now the sooner of that end and the refresh token's."""
    owner = await new_tenant(moved)
    call = _as(moved, owner)
    listed = (await moved.session_control.list_own(call)).items
    assert len(listed) == 1
    refresh_ends = clock.now + timedelta(seconds=settings.refresh_token_ttl)
    assert abs((listed[0].expires_at - refresh_ends).total_seconds()) < 1
    clock.advance(settings.refresh_token_ttl - 60)
    assert len((await moved.session_control.list_own(call)).items) == 1
    clock.advance(120)
    assert (await moved.session_control.list_own(call)).items == []
    assert (await moved.session_control.list_of_user(call, owner.user.id)).items == []


async def test_no_token_outlives_the_session_near_its_absolute_end(
    settings: Settings, clock: Clock
) -> None:
    """With sessions of 10 min (SESSION_MAX_AGE=600), a 15-min access token would live 5
    min past its session's end, and a refresh just before the end would hand out another
    one: both stop at the end now, and a refresh after it is 401."""
    runtime = Runtime.open(settings.model_copy(update={"session_max_age": 600}), clock=clock)
    try:
        owner = await new_tenant(runtime)
        codec = runtime.authenticator.codec
        ends = codec.verify_refresh(owner.refresh_token or "").exp
        assert abs(ends - (clock.now.timestamp() + 600)) <= 1
        assert codec.verify_access(owner.access_token or "").exp == ends
        assert owner.expires_in <= 600
        clock.advance(590)
        child = await runtime.auth.refresh(
            RefreshRequest(refresh_token=owner.refresh_token), a_call()
        )
        assert codec.verify_access(child.access_token or "").exp == ends
        assert codec.verify_refresh(child.refresh_token or "").exp == ends
        clock.advance(20)
        with pytest.raises(Unauthenticated):
            await runtime.auth.refresh(RefreshRequest(refresh_token=child.refresh_token), a_call())
    finally:
        await runtime.close()
