"""An HTTP route: a method and path mapped onto one action (routing key) of contracts/."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.actions import Action


@dataclass(frozen=True, slots=True)
class HttpRoute:
    method: str
    path: str
    action: Action
    status: int = 200
    query: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # For a 201: where the created resource is, from the answer's data (``Location``).
    location: Callable[[dict[str, Any]], str] | None = None
