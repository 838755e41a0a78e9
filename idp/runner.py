"""Run a process's main coroutine on uvloop where it is installed."""

import asyncio
from collections.abc import Coroutine
from typing import Any


def run_async(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        asyncio.run(main)
        return
    uvloop.run(main)
