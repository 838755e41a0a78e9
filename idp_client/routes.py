"""What every group of the client's routes shares: the transport, and how a path
segment and a PATCH body are written."""

from typing import Any
from urllib.parse import quote
from uuid import UUID

from idp_client.models import Json
from idp_client.transport import Transport

Id = UUID | str


def seg(value: Id) -> str:
    """``value`` as one path segment (a slash in it cannot reach another route)."""
    return quote(str(value), safe="")


def fields(**values: Any) -> Json:
    """The fields that were given (a PATCH changes only those)."""
    return {k: v for k, v in values.items() if v is not None}


class Routes:
    """A group of ``AsyncIdpClient``'s methods (idp_client.client): they share its
    transport."""

    _t: Transport
