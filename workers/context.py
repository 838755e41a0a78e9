"""What a handler knows about the message it serves, besides the request body."""

from dataclasses import dataclass
from uuid import UUID

from idp.security.tokens import AccessClaims
from workers.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from: the address and user agent the edge vouched for
    (idp.security.client_headers), or, for another publisher, its broker account."""

    ip: str | None = None
    user_agent: str | None = None
    publisher: str | None = None  # the AMQP user_id property, which RabbitMQ checks
    vouched: bool = False  # the edge signed the request

    @property
    def rate_key(self) -> str:
        """Whom the per-address limit counts: the client's address; a broker account for
        a publisher without one; one shared bucket for publishers that name neither."""
        if self.ip:
            return self.ip
        return f"broker:{self.publisher}" if self.publisher else "-"


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
