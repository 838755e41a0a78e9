"""Message entry points of the files family."""

from contracts import actions
from contracts.auth import Pong
from contracts.base import Empty
from workers.context import Call
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("files")


@router.handles(actions.PING["files"])
async def ping(request: Empty, call: Call, runtime: Runtime) -> Pong:
    """Answer the readiness probe."""
    return Pong(family="files")
