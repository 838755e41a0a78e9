"""``idp bench``: start the platform (unless given a URL), prepare, measure, report."""

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import ceiling, floors, report, setup, wrk
from bench.load import LoadGenerator, Scenario
from bench.memory import peak_rss_mb
from bench.scenarios import build
from bench.wrk import WrkLoad
from idp.settings import Settings

# SPEC 4.5's Argon2id defaults: a bench with lighter parameters would flatter login.
MIN_ARGON2_MEMORY_KIB = 19456
MIN_ARGON2_TIME_COST = 2
# The bench's own platform lets one client address log in as often as the load needs
# (the per-address login limit would otherwise cap the login scenario at 60/min).
PLATFORM_ENV = {"IP_RATE_LIMIT_PER_MINUTE": "1000000000"}
# A pause after each scenario, for what it set off in the background (relayed events).
SETTLE_SECONDS = 2.0
REPORT_ORDER = ("login", "refresh", "me", "users_list", "users_create")
CEILING_ROW = "me (ceiling)"


@dataclass(frozen=True, slots=True)
class Options:
    duration: float
    concurrency: int
    json_path: Path | None
    url: str | None
    load: str = "auto"  # "wrk", "python" or "auto" (wrk when installed)


class BenchError(Exception):
    """The bench could not run; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    pids: dict[str, int]  # edge and worker, when the bench started them
    logs: Path | None = None  # their logs, when the bench started them


@contextmanager
def _platform(url: str | None) -> Iterator[Target]:
    if url is not None:
        yield Target(url.rstrip("/"), {})
        return
    try:
        import pytest

        from idp_testing.platform import Platform
    except ImportError as exc:
        raise BenchError(f"starting the platform needs the test extra ({exc})") from None
    logs = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    platform = Platform(log_dir=logs, env=dict(PLATFORM_ENV))
    try:
        platform.start_local_s3()
        platform.migrate()
        worker = platform.start_worker()
        edge = platform.start_edge()
        platform.wait_ready(timeout=90)
    except pytest.fail.Exception as exc:
        platform.stop()
        raise BenchError(str(exc)) from None
    try:
        yield Target(platform.url, {"edge": edge.popen.pid, "worker": worker.popen.pid}, logs)
    finally:
        platform.stop()


def _load_generator(url: str, choice: str) -> WrkLoad | LoadGenerator:
    if choice == "wrk" or (choice == "auto" and wrk.available()):
        if not wrk.available():
            raise BenchError("--load wrk: wrk is not installed (Debian: apt-get install wrk)")
        return WrkLoad(url)
    return LoadGenerator(url)


def measure(settings: Settings, options: Options) -> tuple[dict[str, Any], dict[str, Any]]:
    seconds, concurrency = options.duration, options.concurrency
    warmup = min(3.0, max(0.5, seconds / 4))
    with _platform(options.url) as target:
        # Twice the sessions: wrk warms up on refresh chains of its own.
        fixture = asyncio.run(setup.prepare(target.url, 2 * concurrency))
        load = _load_generator(target.url, options.load)
        try:
            argon2_rate = floors.argon2_hashes_per_second(settings, seconds)
            echo = floors.rpc_echo(settings, concurrency, warmup, seconds)
            scenarios: dict[str, dict[str, Any]] = {}
            cpu_ms: dict[str, dict[str, float]] = {}
            ceiling_me: dict[str, Any] | None = None
            for scenario in build(fixture, concurrency):
                figures, samples, per_request = load.measure(scenario, warmup, seconds, target.pids)
                for sample in samples:
                    print(f"idp bench: {scenario.name} error: {sample}", file=sys.stderr)
                scenarios[scenario.name] = figures
                if per_request is not None:
                    cpu_ms[scenario.name] = per_request
                time.sleep(SETTLE_SECONDS)
                # The ceiling right after me: the same tokens, the machine in the same state.
                # Its bare processes read this machine's database, hence not with --url.
                if scenario.name == "me" and options.url is None:
                    ceiling_me = _ceiling(settings, scenario, options.load, warmup, seconds, cpu_ms)
        finally:
            load.close()
        memory = {name: target.pids.get(name) for name in ("edge", "worker")}
        memory_mb = {
            name: (None if pid is None else _round(peak_rss_mb(pid)))
            for name, pid in memory.items()
        }
    errors = sum(s["errors"] for s in scenarios.values())
    if target.logs is not None:
        if errors:
            print(f"idp bench: the platform's logs are in {target.logs}", file=sys.stderr)
        else:
            shutil.rmtree(target.logs, ignore_errors=True)
    floor_values = {
        "argon2_hashes_per_s": round(argon2_rate, 1),
        "rpc_echo_rps": round(echo.rps, 1),
        "rpc_echo_p50_ms": round(echo.p50_ms, 2),
    }
    scenarios = {name: scenarios[name] for name in REPORT_ORDER}
    result = {
        "floors": floor_values,
        "scenarios": scenarios,
        "ratios": report.ratios(floor_values, scenarios),
        "memory_mb": memory_mb,
    }
    # Printed with the table, not written to the JSON (which holds the fields).
    diagnostics = {
        "load_generator": load.name,
        "cpu_ms": {name: cpu_ms[name] for name in (*REPORT_ORDER, CEILING_ROW) if name in cpu_ms},
        "ceiling_me": ceiling_me,
    }
    return result, diagnostics


def _ceiling(
    settings: Settings,
    me: Scenario,
    load: str,
    warmup: float,
    seconds: float,
    cpu_ms: dict[str, dict[str, float]],
) -> dict[str, Any] | None:
    try:
        figures, per_request = ceiling.measure_me(
            settings, me, lambda url: _load_generator(url, load), warmup, seconds
        )
    except RuntimeError as exc:  # a diagnostic: the bench's own figures stand without it
        print(f"idp bench: the ceiling was not measured: {exc}", file=sys.stderr)
        return None
    if per_request is not None:
        cpu_ms[CEILING_ROW] = per_request
    time.sleep(SETTLE_SECONDS)
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run_bench(settings: Settings, options: Options) -> int:
    """Measure, print the table, write the JSON; the process exit code."""
    if (
        settings.argon2_memory_kib < MIN_ARGON2_MEMORY_KIB
        or settings.argon2_time_cost < MIN_ARGON2_TIME_COST
    ):
        print(
            "idp bench: Argon2 parameters are below SPEC's defaults "
            f"(ARGON2_MEMORY_KIB={settings.argon2_memory_kib}, "
            f"ARGON2_TIME_COST={settings.argon2_time_cost}); the bench needs at least "
            f"{MIN_ARGON2_MEMORY_KIB} KiB and t={MIN_ARGON2_TIME_COST}",
            file=sys.stderr,
        )
        return 2
    try:
        result, diagnostics = measure(settings, options)
    except (BenchError, setup.SetupFailed) as exc:
        print(f"idp bench: {exc}", file=sys.stderr)
        return 1
    print(report.table(result, diagnostics))
    if options.json_path is not None:
        options.json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
