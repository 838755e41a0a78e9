"""Message entry points of the users family."""

from contracts import actions
from contracts.auth import Pong
from contracts.base import Empty
from workers.context import Call
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("users")


@router.handles(actions.PING["users"])
async def ping(request: Empty, call: Call, runtime: Runtime) -> Pong:
    """Answer the readiness probe."""
    return Pong(family="users")
