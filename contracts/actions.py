"""Every request a caller can make, by routing key (SPEC 5).

An action names its routing key, its request and response models, whether it needs an
access token, and the permission it needs. The edge maps HTTP routes onto actions; the
workers register one handler per action; the AsyncAPI and OpenAPI documents are derived
from this table.
"""

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from contracts.base import Empty, Pong

EXCHANGE_RPC: Final = "idp.rpc"
# Optional request header: the caller's deadline, integer milliseconds since the Unix
# epoch. A message's ``expiration`` ends when a worker takes it; a request that waited in
# the worker's prefetch past this deadline is answered 504 and not applied.
DEADLINE_HEADER: Final = "x-deadline"
EXCHANGE_EVENTS: Final = "idp.events"
EXCHANGE_DLX: Final = "idp.dlx"
QUEUE_DEAD: Final = "idp.dead"
# idp.dlx feeds this queue; workers drop expired requests from it and pass the rest on to
# idp.dead with their secrets redacted (workers/dead_letters.py).
QUEUE_DEAD_INTAKE: Final = "idp.dead.intake"
# idp.rpc's alternate exchange (fanout) and its queue: a request whose routing key no
# family queue is bound to lands here, and a worker answers it (workers/unrouted.py).
EXCHANGE_UNROUTED: Final = "idp.rpc.unrouted"
QUEUE_UNROUTED: Final = "idp.unrouted"
FAMILIES: Final[tuple[str, ...]] = ("auth", "users", "roles", "files")


def family_queue(family: str) -> str:
    return f"idp.{family}"


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    request: type[BaseModel]
    response: type[BaseModel] | None  # None: no body (HTTP 204)
    authenticated: bool
    permission: str | None = None
    summary: str = ""
    read_only: bool = False
    # Counted by the per-address limit (SPEC 4.5: login, sign-up and reset requests).
    address_limited: bool = False
    # Ends the caller's own session (logout): sent again with the same message id after
    # it applied, it meets its own revocation and gets its stored (empty) reply; over
    # HTTP, its answer clears the session cookies.
    ends_own_session: bool = False

    @property
    def family(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def replayable(self) -> bool:
        """Authenticated writes apply once per ``message_id``; a repeat gets the same reply."""
        return self.authenticated and not self.read_only


ACTIONS: dict[str, Action] = {}


def action(
    key: str,
    request: type[BaseModel],
    response: type[BaseModel] | None,
    *,
    authenticated: bool,
    permission: str | None = None,
    summary: str = "",
    read_only: bool = False,
    address_limited: bool = False,
    ends_own_session: bool = False,
) -> Action:
    """Declare an action once; a second declaration of the same key is a programming error."""
    if key in ACTIONS:
        raise ValueError(f"action {key} declared twice")
    declared = Action(
        key,
        request,
        response,
        authenticated,
        permission,
        summary,
        read_only,
        address_limited,
        ends_own_session,
    )
    ACTIONS[key] = declared
    return declared


PING = {
    family: action(
        f"{family}.ping", Empty, Pong, authenticated=False, summary="Liveness of a family"
    )
    for family in FAMILIES
}
