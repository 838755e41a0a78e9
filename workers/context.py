"""What a handler knows about the message it serves, besides the request body."""

from dataclasses import dataclass
from uuid import UUID

from idp.security.tokens import AccessClaims
from workers.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, as the edge (or another publisher) reports it."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    request_id: str
    message_id: str | None
    client: Client
    principal: AccessClaims | None = None
    # Who a public action turned out to be about (a login's user and tenant), for the
    # message's log line (SPEC 8); None while unknown.
    subject: tuple[UUID, UUID] | None = None

    @property
    def caller(self) -> AccessClaims:
        """The verified caller of an authenticated action."""
        if self.principal is None:
            raise Unauthenticated()
        return self.principal

    @property
    def tenant_id(self) -> UUID:
        return self.caller.tid
