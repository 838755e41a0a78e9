"""A worker's message handling on the real broker and database: once-only, poison, dead letters.

The worker runs in this process on a vhost of its own, with test actions registered
alongside the real ones, so that failures can be provoked on purpose.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aio_pika
import orjson
import pytest
from sqlalchemy import func, select

from contracts.actions import (
    DEADLINE_HEADER,
    EXCHANGE_DLX,
    EXCHANGE_RPC,
    QUEUE_DEAD,
    QUEUE_DEAD_INTAKE,
    action,
)
from contracts.base import Empty, Request, View
from edge.requester import Requester
from idp.security import client_headers
from idp.security.client_headers import CLIENT_IP_HEADER, SIGNATURE_HEADER
from idp.settings import Settings
from idp.topology import declare_topology
from tests.integration.conftest import new_tenant
from tests.support.env import ensure_vhost, sibling_vhost
from workers.app import ROUTERS, build_broker
from workers.context import Call
from workers.dead_letters import REDACTED_HEADER
from workers.errors import Conflict
from workers.journal import audit
from workers.revocation_sync import restore_if_lost
from workers.routing import FamilyRouter
from workers.runtime import Runtime
from workers.tables import audit_log
from workers.uow import must_commit


class NoteIn(Request):
    text: str
    fail_after_write: bool = False
    pause: float = 0.0  # seconds the handler takes after its write
    irreversible: bool = False  # does what no rollback undoes before the pause


class NoteOut(View):
    notes: int


EXPLODE = action("files.test_explode", Empty, None, authenticated=False)
NOTE = action("files.test_note", NoteIn, NoteOut, authenticated=True)
deliveries: dict[str, int] = {}


def _test_router() -> FamilyRouter:
    router = FamilyRouter("files")

    @router.handles(EXPLODE)
    async def explode(request: Empty, call: Call, runtime: Runtime) -> None:
        deliveries[call.request_id] = deliveries.get(call.request_id, 0) + 1
        raise RuntimeError("this handler always fails")

    @router.handles(NOTE)
    async def note(request: NoteIn, call: Call, runtime: Runtime) -> NoteOut:
        caller = call.caller
        async with runtime.db.transaction(caller.tid) as uow:
            audit(
                uow,
                call,
                tenant_id=caller.tid,
                action="test.note",
                actor_id=caller.sub,
                data={"text": request.text},
            )
            await uow.flush_journal()  # written now, so the count below includes it
            if request.fail_after_write:
                raise Conflict("failing after the write")
            if request.irreversible:
                must_commit()
            await asyncio.sleep(request.pause)
            count = await uow.connection.execute(
                select(func.count()).select_from(audit_log).where(audit_log.c.action == "test.note")
            )
            return NoteOut(notes=count.scalar_one())

    return router


@dataclass
class Harness:
    settings: Settings
    runtime: Runtime
    requester: Requester


@pytest.fixture(scope="module")
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    url = sibling_vhost(settings.amqp_url, "messages")
    ensure_vhost(url)
    local = settings.model_copy(update={"amqp_url": url, "max_deliveries": 3})
    connection = await aio_pika.connect(url)
    async with connection:
        await declare_topology(connection, local)
        channel = await connection.channel()
        await (await channel.get_queue(QUEUE_DEAD)).purge()
    runtime = Runtime.open(local)
    ttl = local.revocation_ttl_seconds
    await restore_if_lost(runtime.db, runtime.revocations, ttl)  # as a worker does at start
    routers = {**ROUTERS, "files": _test_router()}
    broker = build_broker(local, runtime, ("auth", "files"), 16, routers=routers)
    await broker.start()
    requester = Requester(local)
    await requester.start()
    yield Harness(local, runtime, requester)
    await requester.stop()
    await broker.stop()
    await runtime.close()


async def _notes(harness: Harness, tenant_id: uuid.UUID) -> int:
    async with harness.runtime.db.transaction(tenant_id) as uow:
        count = await uow.connection.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "test.note")
        )
        return int(count.scalar_one())


async def test_a_repeated_message_id_is_applied_once_and_gets_the_same_reply(
    harness: Harness,
) -> None:
    owner = await new_tenant(harness.runtime)
    headers = {"authorization": f"Bearer {owner.access_token}"}
    message_id = uuid.uuid4().hex
    first = await harness.requester.call(
        "files.test_note", {"text": "a"}, headers=headers, message_id=message_id
    )
    again = await harness.requester.call(
        "files.test_note", {"text": "a"}, headers=headers, message_id=message_id
    )
    assert first == again == {"ok": True, "data": {"notes": 1}}
    assert await _notes(harness, owner.tenant.id) == 1
    other = await harness.requester.call(
        "files.test_note", {"text": "a"}, headers=headers, message_id=uuid.uuid4().hex
    )
    assert other == {"ok": True, "data": {"notes": 2}}


async def test_concurrent_duplicates_apply_once(harness: Harness) -> None:
    owner = await new_tenant(harness.runtime)
    headers = {"authorization": f"Bearer {owner.access_token}"}
    message_id = uuid.uuid4().hex
    replies = await asyncio.gather(
        *(
            harness.requester.call(
                "files.test_note", {"text": "c"}, headers=headers, message_id=message_id
            )
            for _ in range(6)
        )
    )
    assert all(reply == {"ok": True, "data": {"notes": 1}} for reply in replies)
    assert await _notes(harness, owner.tenant.id) == 1


async def test_the_same_id_for_another_request_is_a_conflict(harness: Harness) -> None:
    owner = await new_tenant(harness.runtime)
    headers = {"authorization": f"Bearer {owner.access_token}"}
    message_id = uuid.uuid4().hex
    await harness.requester.call(
        "files.test_note", {"text": "x"}, headers=headers, message_id=message_id
    )
    reply = await harness.requester.call(
        "files.test_note", {"text": "y"}, headers=headers, message_id=message_id
    )
    assert reply["ok"] is False
    assert reply["error"]["code"] == "conflict"
    assert await _notes(harness, owner.tenant.id) == 1


async def test_a_failed_write_leaves_nothing_and_its_retry_applies_once(harness: Harness) -> None:
    owner = await new_tenant(harness.runtime)
    headers = {"authorization": f"Bearer {owner.access_token}"}
    message_id = uuid.uuid4().hex
    failed = await harness.requester.call(
        "files.test_note",
        {"text": "f", "fail_after_write": True},
        headers=headers,
        message_id=message_id,
    )
    assert failed["ok"] is False
    assert await _notes(harness, owner.tenant.id) == 0
    # The failed attempt's claim rolled back with it: the same id can still be applied.
    retried = await harness.requester.call(
        "files.test_note", {"text": "f"}, headers=headers, message_id=message_id
    )
    assert retried == {"ok": True, "data": {"notes": 1}}
    assert await _notes(harness, owner.tenant.id) == 1


async def test_one_message_id_is_per_user(harness: Harness) -> None:
    a = await new_tenant(harness.runtime)
    b = await new_tenant(harness.runtime)
    message_id = uuid.uuid4().hex
    for owner in (a, b):
        reply = await harness.requester.call(
            "files.test_note",
            {"text": "u"},
            headers={"authorization": f"Bearer {owner.access_token}"},
            message_id=message_id,
        )
        assert reply == {"ok": True, "data": {"notes": 1}}


async def test_a_poison_message_is_answered_and_dead_lettered(harness: Harness) -> None:
    request_id = uuid.uuid4().hex
    reply = await harness.requester.call(
        "files.test_explode",
        {},
        headers={"x-request-id": request_id, "authorization": "Bearer not-to-be-kept"},
        budget=8,
    )
    assert reply == {
        "ok": False,
        "error": {"code": "internal_error", "message": "internal error", "status": 500},
    }
    assert deliveries[request_id] == harness.settings.max_deliveries
    connection = await aio_pika.connect(harness.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        dead = await channel.get_queue(QUEUE_DEAD)
        found = None
        for _ in range(20):
            message = await dead.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            if (message.headers or {}).get("x-request-id") == request_id:
                found = message
                break
        assert found is not None, "the poison message is not in idp.dead"
        assert found.type == "files.test_explode"
        # Kept for whoever investigates, without the caller's token (workers/dead_letters.py).
        headers = found.headers or {}
        assert "authorization" not in headers
        assert headers[REDACTED_HEADER] is True
        assert found.body == b"{}"
    # The queue keeps flowing: the next request is served.
    assert (await harness.requester.call("files.ping", {}, headers={}))["ok"] is True


async def _publish_and_wait(
    harness: Harness, body: bytes, headers: dict[str, object], **properties: object
) -> dict[str, object]:
    """Publish as another system would (no Requester), and the reply."""
    connection = await aio_pika.connect(harness.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        exchange = await channel.get_exchange(EXCHANGE_RPC)
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                reply_to=replies.name,
                correlation_id=uuid.uuid4().hex,
                message_id=uuid.uuid4().hex,
                headers=headers,  # type: ignore[arg-type]
                **properties,  # type: ignore[arg-type]
            ),
            routing_key="files.test_note",
        )
        async with asyncio.timeout(10), replies.iterator() as stream:
            async for message in stream:
                await message.ack()
                reply: dict[str, object] = orjson.loads(message.body)
                return reply
    raise AssertionError("no reply")


async def test_a_request_past_its_deadline_is_answered_504_and_not_applied(
    harness: Harness,
) -> None:
    """A message's expiration ends when a worker takes it into its prefetch: the worker
    itself refuses what waited past the caller's deadline (the edge's ``x-deadline``, or
    ``timestamp`` + ``expiration`` from another publisher), so a caller already answered
    504 never sees its request applied later."""
    owner = await new_tenant(harness.runtime)
    auth = f"Bearer {owner.access_token}"
    now_ms = int(time.time() * 1000)
    body = orjson.dumps({"text": "late"})
    late = await _publish_and_wait(
        harness, body, {"authorization": auth, DEADLINE_HEADER: now_ms - 50}
    )
    stale = await _publish_and_wait(
        harness,
        body,
        {"authorization": auth},
        timestamp=datetime.now(UTC) - timedelta(seconds=10),
        expiration=5,
    )
    for reply in (late, stale):
        assert reply["ok"] is False
        assert reply["error"] == {
            "code": "timeout",
            "message": "the request's deadline passed before a worker took it",
            "status": 504,
        }
    assert await _notes(harness, owner.tenant.id) == 0
    in_time = await _publish_and_wait(
        harness, body, {"authorization": auth, DEADLINE_HEADER: now_ms + 10_000}
    )
    fresh = await _publish_and_wait(
        harness, body, {"authorization": auth}, timestamp=datetime.now(UTC), expiration=5
    )
    assert in_time == {"ok": True, "data": {"notes": 1}}
    assert fresh == {"ok": True, "data": {"notes": 2}}


async def test_a_write_that_would_commit_past_its_deadline_is_rolled_back(
    harness: Harness,
) -> None:
    """A message taken in time can still wait or work past its caller's deadline inside
    the worker (a hashing thread, a pool connection): its commit is refused then (504,
    nothing applied), so a caller answered 504 never finds its write applied later."""
    owner = await new_tenant(harness.runtime)
    auth = f"Bearer {owner.access_token}"
    slow = orjson.dumps({"text": "slow", "pause": 1.0})
    deadline_ms = int(time.time() * 1000) + 1_000
    late = await _publish_and_wait(
        harness, slow, {"authorization": auth, DEADLINE_HEADER: deadline_ms}
    )
    assert late == {
        "ok": False,
        "error": {
            "code": "timeout",
            "message": "the request's deadline passed before its changes were committed; "
            "nothing was applied",
            "status": 504,
        },
    }
    assert await _notes(harness, owner.tenant.id) == 0
    # Past the point of no return (a revocation in Redis, an object on S3) it commits
    # however late: a 504 must never stand for half of a request.
    irreversible = orjson.dumps({"text": "slow", "pause": 1.0, "irreversible": True})
    deadline_ms = int(time.time() * 1000) + 1_000
    applied = await _publish_and_wait(
        harness, irreversible, {"authorization": auth, DEADLINE_HEADER: deadline_ms}
    )
    assert applied == {"ok": True, "data": {"notes": 1}}
    deadline_ms = int(time.time() * 1000) + 10_000
    in_time = await _publish_and_wait(
        harness, slow, {"authorization": auth, DEADLINE_HEADER: deadline_ms}
    )
    assert in_time == {"ok": True, "data": {"notes": 2}}


async def _dead_letters(harness: Harness, seconds: float) -> list[aio_pika.abc.AbstractMessage]:
    """Everything ``idp.dead`` receives within ``seconds``, taken off it."""
    found: list[aio_pika.abc.AbstractMessage] = []
    connection = await aio_pika.connect(harness.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        dead = await channel.get_queue(QUEUE_DEAD)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = await dead.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                found.append(message)
    return found


async def test_dead_letters_keep_no_secrets_and_expired_requests_are_dropped(
    harness: Harness,
) -> None:
    """SPEC 4.2, 4.4: no usable token (nor password) at rest, idp.dead included. A login
    that expired in its queue is dropped; a message dead-lettered for another reason
    reaches idp.dead with its token and secret fields redacted."""
    connection = await aio_pika.connect(harness.settings.amqp_url)
    login = orjson.dumps({"tenant": "acme", "email": "a@example.com", "password": "s3cret pass"})
    expired_id, rejected_id = uuid.uuid4().hex, uuid.uuid4().hex
    async with connection:
        channel = await connection.channel()
        # idp.users has no consumer in this harness: the request waits there, and expires.
        rpc = await channel.get_exchange(EXCHANGE_RPC)
        await rpc.publish(
            aio_pika.Message(login, message_id=expired_id, type="users.create", expiration=0.05),
            routing_key="users.create",
        )
        # A message published to idp.dlx itself, as a broker-side tool might.
        dlx = await channel.get_exchange(EXCHANGE_DLX)
        await dlx.publish(
            aio_pika.Message(
                login,
                message_id=rejected_id,
                type="auth.login",
                headers={"authorization": "Bearer eyJ.secret", "x-request-id": "r-1"},
            ),
            routing_key="",
        )
    # Only this test's two messages count: another test may dead-letter meanwhile.
    kept = [
        m for m in await _dead_letters(harness, 2.0) if m.message_id in {expired_id, rejected_id}
    ]
    assert [m.message_id for m in kept] == [rejected_id]
    (letter,) = kept
    assert orjson.loads(letter.body) == {
        "tenant": "acme",
        "email": "a@example.com",
        "password": "[redacted]",
    }
    headers = {k: v for k, v in (letter.headers or {}).items() if k != "x-delivery-count"}
    assert headers == {"x-request-id": "r-1", REDACTED_HEADER: True}  # (idp.dead's own count)
    assert letter.type == "auth.login"
    connection = await aio_pika.connect(harness.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        intake = await channel.declare_queue(QUEUE_DEAD_INTAKE, passive=True)
        assert intake.declaration_result.message_count == 0


async def test_a_dead_lettered_request_that_got_no_answer_is_answered(harness: Harness) -> None:
    """SPEC 5: every request gets a reply. A broker publisher whose request expired in
    its queue waited for one that never came; nor did one whose workers kept dying on its
    request. Now the first hears 504 ``timeout`` and the second 500, in the reply queue it
    named; an expired request of the edge's (signed) is not answered again."""
    connection = await aio_pika.connect(harness.settings.amqp_url)
    body = orjson.dumps({"email": "a@example.com", "name": "A"})
    expired, signed, crashed = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)  # amq.gen-...: answered there
        rpc = await channel.get_exchange(EXCHANGE_RPC)
        # idp.users has no consumer in this harness: both wait there, and expire.
        await rpc.publish(
            aio_pika.Message(
                body,
                message_id=expired,
                correlation_id=expired,
                reply_to=replies.name,
                expiration=0.05,
                headers={"x-request-id": "r-expired"},
            ),
            routing_key="users.create",
        )
        deadline = int(time.time() * 1000) + 50
        key = client_headers.signing_key(harness.settings.jwt_secret)
        await rpc.publish(
            aio_pika.Message(
                body,
                message_id=signed,
                correlation_id=signed,
                reply_to=replies.name,
                expiration=0.05,
                headers={
                    DEADLINE_HEADER: deadline,
                    CLIENT_IP_HEADER: "192.0.2.1",
                    SIGNATURE_HEADER: client_headers.sign(key, signed, deadline, "192.0.2.1", ""),
                },
            ),
            routing_key="users.create",
        )
        # As the broker dead-letters a request past the delivery limit.
        dlx = await channel.get_exchange(EXCHANGE_DLX)
        await dlx.publish(
            aio_pika.Message(
                body,
                message_id=crashed,
                correlation_id=crashed,
                reply_to=replies.name,
                type="users.create",
                headers={"x-first-death-reason": "delivery_limit"},
            ),
            routing_key="",
        )
        answers: dict[str, tuple[dict[str, object], object]] = {}
        stop = time.monotonic() + 3.0
        while time.monotonic() < stop:
            reply = await replies.get(fail=False, no_ack=True)
            if reply is None:
                await asyncio.sleep(0.05)
                continue
            headers = reply.headers or {}
            answers[reply.correlation_id or ""] = (
                orjson.loads(reply.body),
                headers.get("x-request-id"),
            )
    assert set(answers) == {expired, crashed}  # the signed one: no second answer
    timeout, request_id = answers[expired]
    assert request_id == "r-expired"
    assert timeout == {
        "ok": False,
        "error": {
            "code": "timeout",
            "message": "the request's budget ran out in its queue before a worker took it;"
            " send it again with the same message_id to learn its outcome",
            "status": 504,
        },
    }
    internal, _ = answers[crashed]
    assert internal["error"] == {
        "code": "internal_error",
        "message": "the request could not be handled and was set aside for investigation",
        "status": 500,
    }
    # Kept for investigation all the same, and nothing was applied.
    assert crashed in [m.message_id for m in await _dead_letters(harness, 1.0)]
