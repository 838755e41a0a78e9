"""Turn one request message into exactly one reply, then ack (SPEC 5).

The single place where domain errors, validation failures, token errors and unexpected
exceptions become the reply envelope. Order: run the handler (its transaction commits),
publish the reply, then ack. An unexpected failure is redelivered a bounded number of
times; on the last delivery the caller gets ``internal_error`` and the message goes to
``idp.dead``.
"""

import logging
import time
from dataclasses import replace
from typing import Any
from uuid import UUID

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import AbstractChannel as AmqpChannel
from pamqp.commands import Basic
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError

from contracts.actions import Action
from contracts.auth import LoginResult
from contracts.envelope import ReplyError, ReplyOk, error_reply, validation_details
from contracts.errors import ErrorCode
from idp import amqp_properties
from idp.security.authn import SessionEnded, bearer_token
from idp.security.tokens import AccessClaims, TokenError
from idp.tracing import TraceContext, new_request_id
from workers import idempotency, replies
from workers.context import Call
from workers.db_errors import is_transient
from workers.encoded import Encoded
from workers.errors import DomainError
from workers.incoming import body_of, client_of, deadline_of, header, is_last_delivery
from workers.replies import ReplyLost, ReplyPublisher
from workers.routing import FamilyRouter, Handler
from workers.runtime import Runtime
from workers.uow import COMMIT_DEADLINE

log = logging.getLogger("idp.worker")
# A commit this close to its caller's deadline is refused (504): the commit and the
# reply's way back must fit before the edge answers 504 itself.
COMMIT_MARGIN_SECONDS = 0.25


class Redeliver(Exception):
    """An unexpected failure on a delivery that is not the last one: requeue, no reply yet."""


def action_key(router: FamilyRouter, message: AbstractIncomingMessage) -> str:
    """The action a message asks for: its routing key, which is what brought it to this
    queue (SPEC 5); its ``type`` when the routing key names none (a message published to
    the queue by name on the default exchange)."""
    if message.routing_key in router.routes:
        return message.routing_key
    return message.type or message.routing_key or ""


async def _run(
    router: FamilyRouter, runtime: Runtime, message: AbstractIncomingMessage, call: Call
) -> tuple[ReplyOk | ReplyError, Call]:
    key = action_key(router, message)
    route = router.routes.get(key)
    if route is None:
        return error_reply(ErrorCode.NOT_FOUND, f"unknown action {key!r}"), call
    action, handler = route
    try:
        if action.address_limited:
            # Before the body is even parsed: a malformed login counts against its address
            # like any other (SPEC 4.5; the edge counts those it refuses itself).
            await runtime.throttle.check_address(call.client.rate_key)
        # In the edge's order, so a request gets the same answer by either way in: the
        # token (401), the permission its claims carry (403), then the body (400), then
        # the caller's current role (403).
        standing: Any = None
        if action.authenticated:
            principal, standing = await _authenticate(runtime, action, message)
            call = replace(call, principal=principal)
            if action.permission is not None and action.permission not in principal.perms:
                return error_reply(ErrorCode.FORBIDDEN, "permission denied"), call
        raw = body_of(message)
        request = action.request.model_validate(raw)
        if action.permission is not None and call.principal is not None:
            await runtime.permissions.require_from(call.principal, action.permission, standing)
        if action.replayable and call.message_id and call.principal is not None:
            return await _apply_once(runtime, action, handler, request, raw, call), call
        result = await handler(request, call, runtime)
        if isinstance(result, LoginResult):
            call = replace(call, subject=(result.tenant.id, result.user.id))
    except SessionEnded as exc:
        return await _after_session_ended(runtime, action, message, call, exc)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reply or a redelivery
        if (refused := _refusal(exc)) is not None:
            return refused, call
        return _unexpected(runtime, message, key, exc), call
    return ReplyOk(data=_json(result)), call


async def _authenticate(
    runtime: Runtime, action: Action, message: AbstractIncomingMessage
) -> tuple[AccessClaims, Any]:
    """The caller's verified claims, and for a permissioned action the current standing
    its permission check will read (SPEC 5: workers verify the token themselves)."""
    token = bearer_token(header(message, "authorization"))
    if action.permission is None:
        return await runtime.authenticator.authenticate(token), None
    # The token's claims may be up to 15 min old: the current role is checked too, and
    # its cache read shares the revocation check's Redis round trip.
    principal, (standing,) = await runtime.authenticator.authenticate_with(
        token, runtime.permissions.queue_lookup
    )
    return principal, standing


async def _after_session_ended(
    runtime: Runtime,
    action: Action,
    message: AbstractIncomingMessage,
    call: Call,
    ended: SessionEnded,
) -> tuple[ReplyOk | ReplyError, Call]:
    """A logout sent again with the same id after it ended its own session gets the reply
    it got (an empty success), not a 401 that would say it failed. Only these actions: a
    revoked token must not fetch what another session's writes returned."""
    refused = error_reply(ended.code, str(ended))
    if not (action.ends_own_session and call.message_id):
        return refused, call
    try:
        raw = body_of(message)
    except orjson.JSONDecodeError:
        return refused, call
    replay = await idempotency.stored_reply(
        runtime.db,
        ended.claims.tid,
        user_id=ended.claims.sub,
        message_id=call.message_id,
        routing_key=action.key,
        digest=_request_digest(action, raw, ended.claims),
    )
    if replay is None:
        return refused, call
    return _replayed(replay), replace(call, principal=ended.claims)


def _refusal(exc: Exception) -> ReplyError | None:
    """The reply for a failure that is the request's own, the same on every delivery;
    None for anything else."""
    match exc:
        case orjson.JSONDecodeError():
            return error_reply(ErrorCode.INVALID_REQUEST, "body is not valid JSON")
        case ValidationError():
            return error_reply(
                ErrorCode.INVALID_REQUEST,
                "request failed validation",
                details=validation_details(exc),
            )
        case TokenError():
            return error_reply(exc.code, str(exc))
        case DomainError():
            return _domain_reply(exc)
        case DataError():
            # Input the contract let through but PostgreSQL cannot store (out-of-range
            # values, untranslatable characters).
            return error_reply(ErrorCode.INVALID_REQUEST, "a value cannot be stored as given")
    return None


def _unexpected(
    runtime: Runtime, message: AbstractIncomingMessage, key: str, exc: Exception
) -> ReplyError:
    """503 for a dependency that is away; otherwise ``Redeliver``, and on the last
    delivery 500 (the message then goes to idp.dead)."""
    if is_transient(exc):
        log.warning("dependency unavailable", extra={"routing_key": key, "error": repr(exc)[:300]})
        return error_reply(ErrorCode.UNAVAILABLE, "a dependency is unavailable; retry later")
    if not is_last_delivery(message, runtime.settings):
        log.exception("handler failed; redelivering", extra={"routing_key": key})
        raise Redeliver from exc
    log.exception("handler failed on its last delivery", extra={"routing_key": key})
    return error_reply(ErrorCode.INTERNAL, "internal error")


async def _apply_once(
    runtime: Runtime, action: Action, handler: Handler, request: BaseModel, raw: Any, call: Call
) -> ReplyOk | ReplyError:
    """Run a write in one transaction with its idempotency record (workers.idempotency).

    The reply is stored with the change. A domain error rolls everything back, unless it
    says it keeps its changes (a rejected upload stays rejected): then it commits, and a
    repeat of the message gets the same error.
    """
    caller, message_id = call.caller, call.message_id
    assert message_id is not None
    kept: DomainError | None = None
    async with runtime.db.message_transaction(caller.tid) as uow:
        replay = await idempotency.claim(
            uow,
            user_id=caller.sub,
            message_id=message_id,
            routing_key=action.key,
            digest=_request_digest(action, raw, caller),
        )
        if replay is not None:
            return _replayed(replay)
        try:
            result = await handler(request, call, runtime)
        except DomainError as exc:
            if not exc.keeps_changes:
                raise
            kept = exc
            reply: ReplyOk | ReplyError = _domain_reply(exc)
        else:
            data = _json(result)
            reply = ReplyOk(data=data)
        await idempotency.remember(
            uow, user_id=caller.sub, message_id=message_id, data=orjson.loads(_encode(reply))
        )
    if kept is not None:
        raise kept
    return reply


def _request_digest(action: Action, raw: Any, claims: AccessClaims) -> bytes:
    """What a message id stands for. A logout's body says nothing of what it ends (its
    session): the same id from another session of the user is another request (409),
    not the replay of a logout that leaves this session alive."""
    if action.ends_own_session:
        return idempotency.request_hash(action.key, {"body": raw, "session": str(claims.sid)})
    return idempotency.request_hash(action.key, raw)


def _replayed(replay: idempotency.Replay) -> ReplyOk | ReplyError:
    if replay.data.get("ok"):
        return ReplyOk(data=replay.data.get("data"))
    return ReplyError.model_validate(replay.data)


def _json(result: BaseModel | Encoded[Any] | None) -> orjson.Fragment | None:
    """The handler's model as JSON, straight from pydantic's serializer (no dict between),
    or the bytes a handler encoded itself (workers.encoded)."""
    if isinstance(result, Encoded):
        return orjson.Fragment(result.json)
    return orjson.Fragment(result.model_dump_json()) if isinstance(result, BaseModel) else None


def _domain_reply(exc: DomainError) -> ReplyError:
    return error_reply(exc.code, exc.message, details=exc.details, retry_after=exc.retry_after)


async def dispatch(
    router: FamilyRouter, runtime: Runtime, message: AbstractIncomingMessage
) -> None:
    """Serve one request message: reply exactly once, then ack (or requeue, or dead-letter)."""
    started = time.perf_counter()
    trace = TraceContext.parse(header(message, "traceparent")) or TraceContext.new()
    call = Call(
        request_id=new_request_id(header(message, "x-request-id")),
        message_id=message.message_id,
        client=client_of(message, runtime.client_key),
    )
    if message.reply_to and (refused := replies.refusal(message.reply_to, message.user_id)):
        # No reply can go where it asks, so nothing is applied: the log says why.
        await message.ack()
        log.warning("reply_to refused", extra={"request_id": call.request_id, "reason": refused})
        log_message(call.request_id, trace, action_key(router, message), 400, 0.0)
        return
    metrics = runtime.metrics
    metrics.in_flight.inc()
    reply: ReplyOk | ReplyError
    try:
        if (problem := amqp_properties.undecodable(message.headers)) is not None:
            # Nothing after the bad property was read (message id, deadline...): nothing
            # is applied, and the answer says what to fix.
            reply = error_reply(
                ErrorCode.INVALID_REQUEST,
                f"a message property is not valid AMQP ({problem}); nothing was applied",
            )
        elif message.message_id and "\x00" in message.message_id:
            # Valid AMQP, but PostgreSQL's text cannot hold U+0000, and a write's message
            # id is stored (workers/idempotency.py): refused whatever the action.
            reply = error_reply(
                ErrorCode.INVALID_REQUEST,
                "message_id must not contain U+0000; nothing was applied",
            )
        elif len(message.body) > runtime.settings.max_body_bytes:
            # Before it is parsed: a body the edge would refuse costs a worker no more.
            reply = error_reply(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"the body is over {runtime.settings.max_body_bytes} bytes; nothing was applied",
            )
        elif (deadline := deadline_of(message)) is not None and time.time() > deadline:
            reply = error_reply(
                ErrorCode.TIMEOUT, "the request's deadline passed before a worker took it"
            )
        else:
            # Checked again just before each commit: a message can wait past its deadline
            # inside the worker too (for a hashing thread, a pool connection). The margin
            # covers the commit and the reply's way back to the caller.
            commit_by = COMMIT_DEADLINE.set(deadline - COMMIT_MARGIN_SECONDS if deadline else None)
            try:
                reply, call = await _run(router, runtime, message, call)
            finally:
                COMMIT_DEADLINE.reset(commit_by)
    except Redeliver:
        await message.nack(requeue=True)
        return
    finally:
        metrics.in_flight.dec()
    if message.reply_to:
        try:
            if call.client.vouched:
                await _reply_on_channel(message, reply, call.request_id)
            else:
                await publish_reply(runtime.replies, message, reply, call.request_id)
        except ReplyLost:
            # Settled all the same: a redelivery would apply nothing new and lose its
            # reply the same way.
            log.warning("reply lost", extra={"request_id": call.request_id})
    status = 200 if isinstance(reply, ReplyOk) else reply.error.status
    if status == 500:
        await message.reject(requeue=False)  # to idp.dead, with the caller already answered
    else:
        await message.ack()
    key = action_key(router, message)
    elapsed = time.perf_counter() - started
    if key in router.routes:  # unknown keys would let a publisher grow the label set
        metrics.messages.labels(key, str(status)).inc()
        metrics.latency.labels(key, str(status)).observe(elapsed)
    principal = call.principal
    tenant, user = (principal.tid, principal.sub) if principal else call.subject or (None, None)
    log_message(call.request_id, trace, key, status, elapsed, tenant=tenant, user=user)


def log_message(
    request_id: str,
    trace: TraceContext,
    routing_key: str,
    status: int,
    elapsed: float,
    *,
    tenant: UUID | None = None,
    user: UUID | None = None,
) -> None:
    """The one log line per message (SPEC 8)."""
    log.info(
        "message",
        extra={
            "request_id": request_id,
            "trace_id": trace.trace_id,
            "routing_key": routing_key,
            "tenant": str(tenant) if tenant else None,
            "user": str(user) if user else None,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )


async def publish_reply(
    publisher: ReplyPublisher,
    message: AbstractIncomingMessage,
    reply: ReplyOk | ReplyError,
    request_id: str,
) -> None:
    """A reply to another publisher than the edge, on the replies' own connection."""
    await publisher.publish(
        message.reply_to or "", _encode(reply), _properties(message, request_id)
    )


async def _reply_on_channel(
    message: AbstractIncomingMessage, reply: ReplyOk | ReplyError, request_id: str
) -> None:
    """A reply to the edge, on the channel its request came on: frames on a channel are
    handled in order, so the reply is routed before the ack that follows it."""
    channel: AmqpChannel = message.channel
    await channel.basic_publish(
        _encode(reply),
        exchange="",
        routing_key=message.reply_to or "",
        properties=_properties(message, request_id),
    )


def _properties(message: AbstractIncomingMessage, request_id: str) -> Basic.Properties:
    return Basic.Properties(
        correlation_id=message.correlation_id,
        content_type="application/json",
        headers={"x-request-id": request_id},
    )


def _encode(reply: ReplyOk | ReplyError) -> bytes:
    if isinstance(reply, ReplyOk):
        return orjson.dumps({"ok": True, "data": reply.data})
    return orjson.dumps(
        {"ok": False, "error": reply.error.model_dump(mode="json", exclude_none=True)}
    )
