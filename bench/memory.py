"""Resident memory of a process, from /proc (Linux)."""

from pathlib import Path


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (``VmHWM``), in MiB; None where /proc cannot tell.

    The kernel tracks the high-water mark itself, so no sample between two polls is
    missed.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
