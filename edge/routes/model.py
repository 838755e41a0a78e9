"""An HTTP route: a method and path mapped onto one action (routing key) of contracts/."""

from dataclasses import dataclass

from contracts.actions import Action


@dataclass(frozen=True, slots=True)
class HttpRoute:
    method: str
    path: str
    action: Action
    status: int = 200
    query: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
