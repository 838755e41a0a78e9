"""Run a process's main coroutine on uvloop where it is installed."""

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any


def run_async(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        asyncio.run(main)
        return
    uvloop.run(main)


# Young-generation collections every 50,000 net allocations instead of 700: a request
# allocates thousands of short-lived objects that reference counting frees anyway.
GC_THRESHOLDS = (50_000, 20, 100)


def freeze_startup_heap() -> None:
    """Move everything start-up allocated (modules, models, pools) out of the collector's
    reach, so its full passes scan only what requests allocate, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
