"""The load generator: several client processes, each an aiohttp session on uvloop.

One process per core drives its share of the connections, so the client never becomes
the single-threaded bottleneck it would be in one Python process. Every process starts
at the same wall-clock moment, warms up, then records the latency of every request
that completes inside the measurement window.
"""

import asyncio
import itertools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import orjson

from bench.stats import percentile
from idp.runner import run_async

Kind = Literal["login", "refresh", "get", "create"]
EXPECTED = {"login": 200, "refresh": 200, "get": 200, "create": 201}


@dataclass(frozen=True, slots=True)
class Slot:
    """One connection's worth of work: its headers and what it sends."""

    headers: dict[str, str]
    bodies: tuple[dict[str, Any], ...] = ()  # login: cycled through
    refresh_token: str = ""  # refresh: the chain's first token
    prefix: str = ""  # create: makes every e-mail unique


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: Kind
    method: str
    path: str
    slots: tuple[Slot, ...]
    # wrk's warm-up run needs chains of its own (a refresh token is single use).
    warmup_slots: tuple[Slot, ...] = ()


@dataclass(slots=True)
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def merge(self, other: "Outcome") -> None:
        self.latencies_ms.extend(other.latencies_ms)
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: 5 - len(self.error_samples)])


async def _drive(
    base_url: str, scenario: Scenario, start_at: float, warmup: float, seconds: float
) -> Outcome:
    outcome = Outcome()
    measure_from, stop_at = start_at + warmup, start_at + warmup + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def run_slot(index: int, slot: Slot) -> None:
            bodies = itertools.cycle(slot.bodies) if slot.bodies else None
            refresh_token = slot.refresh_token
            sequence = itertools.count()
            unique = f"{slot.prefix}-{os.getpid()}-{index}"
            while (now := time.time()) < stop_at:
                body: dict[str, Any] | None = None
                if scenario.kind == "login" and bodies is not None:
                    body = next(bodies)
                elif scenario.kind == "refresh":
                    body = {"refresh_token": refresh_token}
                elif scenario.kind == "create":
                    body = {
                        "email": f"{unique}-{next(sequence)}@bench.example",
                        "name": "Bench User",
                        "role": "member",
                    }
                data = orjson.dumps(body) if body is not None else None
                began = time.perf_counter()
                status, payload, failure = 0, b"", ""
                try:
                    async with session.request(
                        scenario.method, scenario.path, data=data, headers=slot.headers
                    ) as response:
                        status, payload = response.status, await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failure = repr(exc)[:200]
                elapsed = (time.perf_counter() - began) * 1000
                ok = status == EXPECTED[scenario.kind]
                if ok and scenario.kind == "refresh":
                    refresh_token = orjson.loads(payload)["refresh_token"]
                if now < measure_from or time.time() > stop_at:
                    if not ok and scenario.kind == "refresh":
                        return  # the chain is broken; nothing more to measure on it
                    continue
                if ok:
                    outcome.latencies_ms.append(elapsed)
                else:
                    outcome.errors += 1
                    if len(outcome.error_samples) < 5:
                        outcome.error_samples.append(
                            failure or f"{status}: {payload[:200].decode(errors='replace')}"
                        )
                    if scenario.kind == "refresh":
                        return

        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(run_slot(i, s) for i, s in enumerate(scenario.slots)))
    return outcome


def _process_main(
    base_url: str, scenario: Scenario, start_at: float, warmup: float, seconds: float
) -> Outcome:
    result: list[Outcome] = []

    async def main() -> None:
        result.append(await _drive(base_url, scenario, start_at, warmup, seconds))

    run_async(main())
    return result[0]


def _ready(pause: float) -> None:
    time.sleep(pause)  # keeps this process busy so that the next task starts another


class LoadGenerator:
    """A pool of client processes, reused for every scenario."""

    name = "multi-process aiohttp client (one process per core)"

    def __init__(self, base_url: str, processes: int | None = None) -> None:
        self.base_url = base_url
        self.processes = processes or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn")
        )
        # Start (and import into) every process now, not inside the first measurement.
        for future in [self._pool.submit(_ready, 0.3) for _ in range(self.processes)]:
            future.result()

    def run(self, scenario: Scenario, warmup: float, seconds: float) -> Outcome:
        """Run ``scenario``'s slots split over the processes; the merged outcome."""
        shares = [scenario.slots[i :: self.processes] for i in range(self.processes)]
        shares = [share for share in shares if share]
        start_at = time.time() + 1.0  # every process is up and waiting by then
        futures = [
            self._pool.submit(
                _process_main,
                self.base_url,
                Scenario(scenario.name, scenario.kind, scenario.method, scenario.path, share),
                start_at,
                warmup,
                seconds,
            )
            for share in shares
        ]
        outcome = Outcome()
        for future in futures:
            outcome.merge(future.result())
        return outcome

    def measure(
        self, scenario: Scenario, warmup: float, seconds: float, pids: dict[str, int]
    ) -> tuple[dict[str, Any], list[str], dict[str, float] | None]:
        """The scenario's figures (rps, p50_ms, p99_ms, errors) and some error samples.

        No CPU breakdown: the warm-up and the measured window are one run here, and
        these client processes share the cores with what they measure."""
        outcome = self.run(scenario, warmup, seconds)
        latencies = outcome.latencies_ms
        figures = {
            "rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "errors": outcome.errors,
        }
        return figures, outcome.error_samples, None

    def close(self) -> None:
        self._pool.shutdown(wait=True)
