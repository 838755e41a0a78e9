"""One router per family: routing key to handler, with the action's contract attached.

Every family answers its readiness ping (``<family>.ping``) without a handler of its own.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from contracts.actions import PING, Action
from contracts.base import Empty, Pong
from workers.context import Call
from workers.encoded import Encoded
from workers.runtime import Runtime

Handler = Callable[[Any, Call, Runtime], Awaitable[BaseModel | Encoded[Any] | None]]


class FamilyRouter:
    def __init__(self, family: str) -> None:
        self.family = family
        self.routes: dict[str, tuple[Action, Handler]] = {}

        async def ping(request: Empty, call: Call, runtime: Runtime) -> Pong:
            """Ready means able to serve: PostgreSQL and Redis answer too (503 otherwise,
            which the edge's readiness reports as this family unavailable)."""
            await runtime.check_dependencies()
            return Pong(family=family)

        self.routes[PING[family].key] = (PING[family], ping)

    def handles(self, action: Action) -> Callable[[Handler], Handler]:
        if action.family != self.family:
            raise ValueError(f"{action.key} does not belong to the {self.family} family")

        def register(handler: Handler) -> Handler:
            self.routes[action.key] = (action, handler)
            return handler

        return register
