"""When the edge looks at a family queue's consumers, and what it concludes
(edge/availability.py; the real broker is exercised by e2e/test_worker_presence.py)."""

import asyncio

import pytest

from edge.availability import FRESH_SECONDS, RECHECK_SECONDS, WorkerPresence
from edge.requester import RpcUnavailable


class _Broker:
    """A consumer count that the test sets, and how often it was asked for."""

    def __init__(self, consumers: int) -> None:
        self.consumers = consumers
        self.looks = 0
        self.gate: asyncio.Event | None = None
        self.down = False

    async def queue_counts(self, queue: str) -> tuple[int, int]:
        assert queue == "idp.users"
        self.looks += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise RpcUnavailable("message broker unavailable")
        return 0, self.consumers


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


async def test_a_fresh_sighting_answers_without_looking_and_a_stale_one_looks_again(
    clock: list[float],
) -> None:
    broker = _Broker(consumers=2)
    presence = WorkerPresence(broker, budget=10.0, clock=lambda: clock[0])
    assert await presence.available("users")
    assert broker.looks == 1
    clock[0] += FRESH_SECONDS * 0.9
    assert await presence.available("users")
    assert broker.looks == 1
    broker.consumers = 0  # every worker stopped
    clock[0] += FRESH_SECONDS * 0.2
    assert not await presence.available("users")
    assert broker.looks == 2


async def test_no_consumer_is_rechecked_at_most_every_recheck_interval(
    clock: list[float],
) -> None:
    broker = _Broker(consumers=0)
    presence = WorkerPresence(broker, budget=10.0, clock=lambda: clock[0])
    assert not await presence.available("users")
    assert not await presence.available("users")
    assert broker.looks == 1
    broker.consumers = 1  # a worker starts
    clock[0] += RECHECK_SECONDS
    assert await presence.available("users")
    assert broker.looks == 2


async def test_requests_waiting_for_a_look_share_it() -> None:
    broker = _Broker(consumers=1)
    broker.gate = asyncio.Event()
    presence = WorkerPresence(broker, budget=10.0)
    waiting = [asyncio.create_task(presence.available("users")) for _ in range(50)]
    await asyncio.sleep(0)
    broker.gate.set()
    assert all(await asyncio.gather(*waiting))
    assert broker.looks == 1


async def test_a_broker_outage_forgets_what_was_seen(clock: list[float]) -> None:
    broker = _Broker(consumers=1)
    presence = WorkerPresence(broker, budget=10.0, clock=lambda: clock[0])
    assert await presence.available("users")
    broker.down = True
    clock[0] += FRESH_SECONDS
    assert not await presence.available("users")
    broker.down = False
    # Nothing is remembered from the outage: the next request looks at once.
    assert await presence.available("users")
    assert broker.looks == 3


async def test_a_broker_that_does_not_answer_holds_no_request_past_the_bound() -> None:
    broker = _Broker(consumers=1)
    broker.gate = asyncio.Event()  # never set: the passive declare hangs
    presence = WorkerPresence(broker, budget=0.05)
    async with asyncio.timeout(1):
        assert not await presence.available("users")
