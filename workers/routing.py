"""One router per family: routing key to handler, with the action's contract attached."""

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from contracts.actions import Action
from workers.context import Call
from workers.runtime import Runtime

Handler = Callable[[Any, Call, Runtime], Awaitable[BaseModel | None]]


class FamilyRouter:
    def __init__(self, family: str) -> None:
        self.family = family
        self.routes: dict[str, tuple[Action, Handler]] = {}

    def handles(self, action: Action) -> Callable[[Handler], Handler]:
        if action.family != self.family:
            raise ValueError(f"{action.key} does not belong to the {self.family} family")

        def register(handler: Handler) -> Handler:
            self.routes[action.key] = (action, handler)
            return handler

        return register
