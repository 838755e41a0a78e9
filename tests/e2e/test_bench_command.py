"""``idp bench`` end to end: it starts its own platform, measures, and writes its JSON.

Short (2 s per measurement, 4 in flight): this proves the command works and its JSON
holds every field with zero errors; speed is reported by the bench, never asserted here.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from idp.settings import Settings
from tests.support.env import ensure_vhost, sibling_vhost

pytestmark = pytest.mark.e2e

SCENARIOS = ("login", "refresh", "me", "users_list", "users_create")


@pytest.mark.timeout(400)
def test_bench_writes_every_figure_without_errors(settings: Settings, tmp_path: Path) -> None:
    # A vhost of its own, so the session platform's workers serve none of its requests.
    amqp_url = sibling_vhost(settings.amqp_url, "bench")
    ensure_vhost(amqp_url)
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "OUTBOX_RELAY": "false",  # the session platform relays the shared outbox
        # The bench refuses the suite's light Argon2 parameters: SPEC's defaults.
        "ARGON2_MEMORY_KIB": "19456",
        "ARGON2_TIME_COST": "2",
    }
    out = tmp_path / "bench.json"
    command = ["bench", "--duration", "2", "--concurrency", "4", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "idp", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = orjson.loads(out.read_bytes())
    assert set(result) == {"floors", "scenarios", "ratios", "memory_mb"}
    assert set(result["floors"]) == {"argon2_hashes_per_s", "rpc_echo_rps", "rpc_echo_p50_ms"}
    assert all(value > 0 for value in result["floors"].values())
    assert set(result["scenarios"]) == set(SCENARIOS)
    for name, figures in result["scenarios"].items():
        assert set(figures) == {"rps", "p50_ms", "p99_ms", "errors"}, name
        assert figures["errors"] == 0, (name, done.stderr[-3000:])
        assert figures["rps"] > 0, name
    assert set(result["ratios"]) == {
        "login_vs_argon2",
        "me_vs_echo",
        "refresh_vs_echo",
        "users_list_vs_echo",
    }
    assert all(value > 0 for value in result["ratios"].values())
    assert set(result["memory_mb"]) == {"edge", "worker"}
    assert all(value > 0 for value in result["memory_mb"].values())
    # The table is printed too, naming the load generator; with wrk, CPU per request of
    # the edge and the worker for every scenario.
    assert "users_list_vs_echo" in done.stdout
    # The ceiling (bench/ceiling.py): me through bare processes on the same stack.
    ceiling = dict(
        line.split()[:2] for line in done.stdout.splitlines() if line.startswith("me_ceiling")
    )
    assert float(ceiling["me_ceiling_rps"]) > 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert float(ceiling["me_ceiling_vs_echo"]) > 0
    if shutil.which("wrk"):
        assert "load generator: wrk" in done.stdout
        cpu_lines = done.stdout.split("cpu ms per request", 1)[1].splitlines()[1:6]
        assert [line.split()[0] for line in cpu_lines] == list(SCENARIOS)
        assert all(float(line.split()[1]) > 0 for line in cpu_lines)  # the edge's column
        ceiling_row = done.stdout.split("me (ceiling)", 1)[1].split()
        assert float(ceiling_row[0]) > 0  # the bare edge
        assert float(ceiling_row[1]) > 0  # the bare worker
    else:
        assert "load generator: multi-process aiohttp client" in done.stdout


def test_bench_refuses_light_argon2_parameters(tmp_path: Path) -> None:
    env = {**os.environ, "ARGON2_MEMORY_KIB": "8192", "ARGON2_TIME_COST": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "idp", "bench", "--duration", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "below SPEC's defaults" in done.stderr
