"""CPU time per process group, from /proc (Linux): where a scenario's time goes.

The groups are the bench's own edge and worker (their pids, every thread counted) and,
found by name, the RabbitMQ, PostgreSQL and Redis servers on this machine. A group that
cannot be read (another machine, no permission) is left out.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_SERVERS = {"beam.smp": "rabbitmq", "postgres": "postgresql", "redis-server": "redis"}
GROUPS = ("edge", "worker", "rabbitmq", "postgresql", "redis")


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _servers() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        group = _SERVERS.get(name)
        if group is not None:
            found.setdefault(group, []).append(int(entry.name))
    return found


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each group."""
    totals: dict[str, float] = {}
    groups = {name: [pid] for name, pid in pids.items()} | _servers()
    for group, members in groups.items():
        seconds = [s for s in (_cpu_seconds(pid) for pid in members) if s is not None]
        if seconds:
            totals[group] = sum(seconds)
    return totals


@dataclass(slots=True)
class Window:
    """CPU seconds each group used between entering and leaving ``measure``."""

    used: dict[str, float] = field(default_factory=dict)


@contextmanager
def measure(pids: dict[str, int]) -> Iterator[Window]:
    window = Window()
    before = snapshot(pids)
    yield window
    after = snapshot(pids)
    window.used = {g: after[g] - before[g] for g in after if g in before}
