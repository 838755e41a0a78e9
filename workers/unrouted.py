"""Requests that no family queue took: answered all the same (SPEC 5, every request gets
a reply).

``idp.rpc``'s alternate exchange brings here every request whose routing key names no
action: a typo, or an action of a newer version. Its publisher learns so at once instead
of waiting out its budget. Nothing is applied and the body is not read.
"""

import contextlib
import time

from aio_pika.abc import AbstractIncomingMessage

from contracts.catalog import ACTIONS
from contracts.envelope import error_reply
from contracts.errors import ErrorCode
from idp.tracing import TraceContext, new_request_id
from workers import replies
from workers.dispatch import log_message, publish_reply
from workers.incoming import header
from workers.replies import ReplyLost, ReplyPublisher

# The longest routing key a reply or a log line repeats (AMQP allows 255 bytes).
SHOWN_KEY_CHARS = 100


async def answer(publisher: ReplyPublisher, message: AbstractIncomingMessage) -> None:
    """Reply 404 (503 for a known action whose family queue is gone), then ack."""
    started = time.perf_counter()
    key = message.routing_key or ""
    shown = key[:SHOWN_KEY_CHARS]
    request_id = new_request_id(header(message, "x-request-id"))
    trace = TraceContext.parse(header(message, "traceparent")) or TraceContext.new()
    if message.reply_to and replies.refusal(message.reply_to, message.user_id):
        await message.ack()
        log_message(request_id, trace, shown, 400, time.perf_counter() - started)
        return
    if key in ACTIONS:
        # Every process binds the family queues when it starts: only an operator deleting
        # a queue under a running platform gets here, until the next start binds it again.
        reply = error_reply(
            ErrorCode.UNAVAILABLE, f"no queue serves {shown!r} right now; try again later"
        )
    else:
        reply = error_reply(
            ErrorCode.NOT_FOUND,
            f"unknown action {shown!r}: the routing key names the action (docs/messages.md)",
        )
    if message.reply_to:
        with contextlib.suppress(ReplyLost):  # settled all the same (workers.dispatch)
            await publish_reply(publisher, message, reply, request_id)
    await message.ack()
    log_message(request_id, trace, shown, reply.error.status, time.perf_counter() - started)
