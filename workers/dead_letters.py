"""Dead letters without secrets: the keeper between ``idp.dlx`` and ``idp.dead``.

A request queue dead-letters two kinds of message: requests that expired in the queue
(the caller's budget ran out before any worker took them) and poison messages (a handler
that kept failing, or a worker that kept dying, up to the delivery limit). Both carry
what their publisher sent: login passwords, refresh tokens, reset tokens, the bearer
token in ``authorization``. Parked as they are in ``idp.dead`` for its seven days, they
would be a store of usable secrets at rest (SPEC 4.2 and 4.4 store only hashes).

So ``idp.dlx`` feeds ``idp.dead.intake``, which every worker consumes:

- an expired request is dropped, and answered 504 ``timeout`` (SPEC 5: every request
  gets a reply): a publisher on the broker learns that its budget ran out in the queue,
  and that a retry with the same message id is how to learn the outcome, rather than
  waiting for a reply that would never come. The edge is not answered again: it
  answered its client 504 when the budget ran out;
- anything else goes on to ``idp.dead`` with the ``authorization`` header removed and
  every secret field of its JSON body replaced by ``"[redacted]"`` (a body that is not
  JSON, which could hide anything, is dropped), marked ``x-idp-redacted``, with its
  other properties and the broker's ``x-death`` headers kept for whoever investigates;
  published with a confirm before the intake message is acked. A request that reached
  the delivery limit without an answer (its workers kept dying on it) is then answered
  500; one a worker rejected on its last delivery was answered then.

Replies go where a worker's would (``workers.replies.refusal``), on the replies' own
connection.
"""

import logging
from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import AbstractChannel as AmqpChannel
from pamqp.commands import Basic

from contracts.actions import QUEUE_DEAD
from contracts.envelope import ReplyError, error_reply
from contracts.errors import ErrorCode
from idp.tracing import new_request_id
from workers import replies
from workers.dispatch import publish_reply
from workers.incoming import client_of, header
from workers.replies import ReplyLost, ReplyPublisher

log = logging.getLogger("idp.worker")

# Every request field that holds a password or a token (tests/unit/test_dead_letters.py
# checks the contracts for any this list misses).
SECRET_FIELDS = frozenset(
    {"password", "current_password", "new_password", "refresh_token", "access_token", "token"}
)
SECRET_HEADERS = frozenset({"authorization"})
# Added by the intake (a quorum queue) on delivery: about the intake, not the request.
INTAKE_HEADERS = frozenset({"x-delivery-count"})
REDACTED = "[redacted]"
REDACTED_HEADER = "x-idp-redacted"


def death_reason(message: AbstractIncomingMessage) -> str | None:
    """Why the broker dead-lettered the message (``expired``, ``rejected``,
    ``delivery_limit``, ``maxlen``), or None for a message published to ``idp.dlx``."""
    headers = message.headers or {}
    reason = headers.get("x-first-death-reason")
    if reason is None:
        deaths = headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            reason = deaths[0].get("reason")
    if isinstance(reason, bytes):
        return reason.decode("utf-8", "replace")
    return str(reason) if reason is not None else None


def redact(value: Any) -> Any:
    """``value`` with every secret field, at any depth, replaced by ``REDACTED``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if key in SECRET_FIELDS and item is not None else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def redacted_body(body: bytes) -> bytes:
    try:
        decoded = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return b""
    return orjson.dumps(redact(decoded)) if decoded is not None else b""


EXPIRED = error_reply(
    ErrorCode.TIMEOUT,
    "the request's budget ran out in its queue before a worker took it; send it again "
    "with the same message_id to learn its outcome",
)
UNHANDLED = error_reply(
    ErrorCode.INTERNAL,
    "the request could not be handled and was set aside for investigation",
)


async def keep(
    publisher: ReplyPublisher, edge_key: bytes, message: AbstractIncomingMessage
) -> None:
    """Drop an expired request; pass anything else on to ``idp.dead`` without its secrets;
    answer the publisher of a request that got no answer.

    The message is acked only once ``idp.dead`` has confirmed the redacted copy (the
    intake channel has publisher confirms; a nack or a return raises, and the caller
    requeues the original): a worker dying in between leaves the original in the intake,
    to be kept again, at worst twice.
    """
    reason = death_reason(message)
    if reason == "expired":
        log.info(
            "expired request dropped",
            extra={"routing_key": message.type, "message_id": message.message_id},
        )
        await _answer(publisher, edge_key, message, EXPIRED)
        await message.ack()
        return
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        if key.lower() not in SECRET_HEADERS and key.lower() not in INTAKE_HEADERS
    }
    headers[REDACTED_HEADER] = True
    channel: AmqpChannel = message.channel
    await channel.basic_publish(
        redacted_body(message.body),
        exchange="",
        routing_key=QUEUE_DEAD,
        mandatory=True,  # a missing idp.dead is a returned publish, not a silent drop
        properties=Basic.Properties(
            content_type=message.content_type,
            correlation_id=message.correlation_id,
            message_id=message.message_id,
            message_type=message.type,
            timestamp=message.timestamp,
            headers=headers,
            delivery_mode=2,
        ),
    )
    log.warning(
        "dead letter kept",
        extra={"routing_key": message.type, "message_id": message.message_id, "reason": reason},
    )
    if reason == "delivery_limit":
        await _answer(publisher, edge_key, message, UNHANDLED)
    await message.ack()


async def _answer(
    publisher: ReplyPublisher, edge_key: bytes, message: AbstractIncomingMessage, reply: ReplyError
) -> None:
    """``reply`` to a dead-lettered request's publisher, if it named a reply queue a
    worker would answer in, and is not the edge (whose budget, the message's own, ran
    out before the broker let it go)."""
    reply_to = message.reply_to
    if not reply_to or replies.refusal(reply_to, message.user_id) is not None:
        return
    if client_of(message, edge_key).vouched:
        return
    request_id = new_request_id(header(message, "x-request-id"))
    try:
        await publish_reply(publisher, message, reply, request_id)
    except ReplyLost:  # settled all the same, like any other request (workers.dispatch)
        log.warning("reply lost", extra={"request_id": request_id})
