"""The load generator of choice: wrk (C, Debian's ``wrk``), one thread per connection.

One thread per connection gives every connection its own Lua state, so a connection
keeps its own refresh chain, its own logins and its own unique e-mails, exactly like
the multi-process client's slots. Each scenario is two wrk runs: a warm-up that is
not counted (with its own refresh chains and e-mails), then the measured run. The Lua
``done`` hook prints the figures as JSON; an "error" is any status other than the one
the scenario expects, or a failed connect, read, write or timeout.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import cpu
from bench.load import EXPECTED, Scenario, Slot

WRK = shutil.which("wrk")

_LUA = r"""
local slots = %(slots)s
local kind, expected = "%(kind)s", %(expected)d  -- every slot's requests expect this
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("slot_index", counter)
end
local slot, token, bodies, next_body, sequence
init = function(args)
  slot = slots[slot_index]
  for name, value in pairs(slot.headers) do wrk.headers[name] = value end
  wrk.method = "%(method)s"
  if kind ~= "get" then wrk.headers["Content-Type"] = "application/json" end
  token, bodies, next_body, sequence = slot.refresh_token, slot.bodies, 0, 0
end
request = function()
  if kind == "login" then
    next_body = next_body %% #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  elseif kind == "refresh" then
    return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
  elseif kind == "create" then
    sequence = sequence + 1
    return wrk.format(nil, nil, nil, '{"email":"' .. slot.prefix .. '-' .. sequence ..
      '@bench.example","name":"Bench User","role":"member"}')
  end
  return wrk.format()
end
if kind == "refresh" then
  response = function(status, headers, body)
    if status == expected then
      token = string.match(body, '"refresh_token"%%s*:%%s*"([^"]+)"') or token
    end
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"status_errors":%%d,' ..
    '"p50_us":%%d,"p99_us":%%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def available() -> bool:
    return WRK is not None


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def _lua_slot(slot: Slot, prefix: str) -> str:
    headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in slot.headers.items())
    bodies = ", ".join(_lua_string(json.dumps(body)) for body in slot.bodies)
    return (
        f"{{headers = {{{headers}}}, bodies = {{{bodies}}}, "
        f"refresh_token = {_lua_string(slot.refresh_token)}, prefix = {_lua_string(prefix)}}}"
    )


@dataclass(frozen=True, slots=True)
class _Run:
    successes: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float


class WrkLoad:
    """Runs a scenario with wrk: ``-t N -c N`` for N slots."""

    name = "wrk (C; one thread per connection)"

    def __init__(self, base_url: str) -> None:
        if WRK is None:
            raise RuntimeError("wrk is not installed")
        self.base_url = base_url
        self._dir = Path(tempfile.mkdtemp(prefix="idp-bench-wrk-"))

    def measure(
        self, scenario: Scenario, warmup: float, seconds: float, pids: dict[str, int]
    ) -> tuple[dict[str, Any], list[str], dict[str, float] | None]:
        """Warm up on ``scenario.warmup_slots`` (not counted), then measure on its slots.

        Also returns each process group's CPU milliseconds per successful request over
        the measured run (``bench.cpu``)."""
        self._once(scenario, scenario.warmup_slots or scenario.slots, "warm", warmup)
        with cpu.measure(pids) as window:
            run = self._once(scenario, scenario.slots, "measure", seconds)
        figures = {
            "rps": round(run.successes / run.seconds, 1),
            "p50_ms": round(run.p50_ms, 2),
            "p99_ms": round(run.p99_ms, 2),
            "errors": run.errors,
        }
        per_request = (
            {group: 1000 * used / run.successes for group, used in window.used.items()}
            if run.successes
            else None
        )
        samples = [f"{run.errors} failed answers (wrk)"] if run.errors else []
        return figures, samples, per_request

    def _once(
        self, scenario: Scenario, slots: tuple[Slot, ...], phase: str, seconds: float
    ) -> _Run:
        prefixes = [f"{phase}-{slot.prefix}-{i}" for i, slot in enumerate(slots)]
        script = self._dir / f"{scenario.name}-{phase}.lua"
        script.write_text(
            _LUA
            % {
                "slots": "{"
                + ",\n".join(_lua_slot(s, p) for s, p in zip(slots, prefixes, strict=True))
                + "}",
                "kind": scenario.kind,
                "expected": EXPECTED[scenario.kind],
                "method": scenario.method,
            }
        )
        connections = str(len(slots))
        assert WRK is not None
        done = subprocess.run(
            [
                WRK,
                "-t",
                connections,
                "-c",
                connections,
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                self.base_url + scenario.path,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
        line = next(
            (line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT ")), None
        )
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
        figures = json.loads(line.removeprefix("WRK-RESULT "))
        errors = figures["socket_errors"] + figures["status_errors"]
        return _Run(
            successes=max(0, figures["requests"] - figures["status_errors"]),
            errors=errors,
            seconds=figures["duration_us"] / 1e6,
            p50_ms=figures["p50_us"] / 1000,
            p99_ms=figures["p99_us"] / 1000,
        )

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
