"""The client's address and user agent, as only the edge can vouch for them (SPEC 4.5, 5).

The edge tells the workers where a request came from (``x-client-ip``, ``x-user-agent``):
the per-address rate limit counts by it, and sessions, audit entries and events record
it. Any system with broker access can publish the same headers, so on their own they
would let a publisher escape the per-address limit by naming a new address per request,
and put any address it likes on the record: more than an anonymous HTTP client can do.

So the edge signs them: ``x-client-sig`` is HMAC-SHA256, under a key derived from
``JWT_SECRET`` (which the edge and the workers hold and publishers do not), of the
message id, the deadline and both values. Workers believe the two headers only with a
valid signature; otherwise the request is counted against its publisher's broker account
(RabbitMQ vouches for the ``user_id`` property, when set), or one bucket shared by all.
Bound to the message id and its deadline, a signature lifted from one message is worth
nothing on another, and nothing once the deadline has passed.
"""

import hashlib
import hmac

from pydantic import SecretStr

CLIENT_IP_HEADER = "x-client-ip"
USER_AGENT_HEADER = "x-user-agent"
SIGNATURE_HEADER = "x-client-sig"
_CONTEXT = b"idp client headers v1"


def signing_key(jwt_secret: SecretStr) -> bytes:
    return hmac.new(jwt_secret.get_secret_value().encode(), _CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, message_id: str, deadline: int, ip: str, user_agent: str) -> str:
    material = "\0".join((message_id, str(deadline), ip, user_agent)).encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def verify(
    key: bytes, signature: str, message_id: str, deadline: int, ip: str, user_agent: str
) -> bool:
    # As bytes: compare_digest refuses a str that is not ASCII (a publisher's header may be
    # anything), and that TypeError crashed the worker before it could reply.
    expected = sign(key, message_id, deadline, ip, user_agent).encode()
    return hmac.compare_digest(signature.encode("utf-8", "surrogatepass"), expected)
