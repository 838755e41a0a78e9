"""Apply an authenticated write once per ``message_id`` (SPEC 5).

The message's whole work runs in one transaction that starts by claiming
``(tenant, user, message_id)``. A second delivery of the same message (a redelivery after
a crash, a re-sent request, an HTTP retry with the same ``Idempotency-Key``) blocks on
that claim until the first commits, then finds it and gets the stored reply; nothing is
applied twice. If the first delivery failed, its claim rolled back with its work, so the
retry runs afresh. The same key with a different request is a conflict.
"""

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from workers.errors import Conflict
from workers.tables import processed_messages
from workers.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored reply envelope of a message already applied."""

    data: dict[str, Any]


def request_hash(routing_key: str, body: Any) -> bytes:
    return hashlib.sha256(
        routing_key.encode() + b"\0" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    ).digest()


async def claim(
    uow: UnitOfWork, *, user_id: UUID, message_id: str, routing_key: str, digest: bytes
) -> Replay | None:
    """Claim the message for this transaction; a Replay if it was applied already."""
    assert uow.tenant_id is not None
    inserted = await uow.connection.execute(
        insert(processed_messages)
        .values(
            tenant_id=uow.tenant_id,
            user_id=user_id,
            message_id=message_id,
            routing_key=routing_key,
            request_hash=digest,
        )
        .on_conflict_do_nothing()
        .returning(processed_messages.c.message_id)
    )
    if inserted.one_or_none() is not None:
        return None
    row = (
        await uow.connection.execute(
            select(processed_messages.c.request_hash, processed_messages.c.reply).where(
                processed_messages.c.user_id == user_id,
                processed_messages.c.message_id == message_id,
            )
        )
    ).one()
    if row.request_hash != digest:
        raise Conflict("this message id (Idempotency-Key) was already used for another request")
    return Replay(row.reply)


async def remember(uow: UnitOfWork, *, user_id: UUID, message_id: str, data: Any) -> None:
    await uow.connection.execute(
        update(processed_messages)
        .where(
            processed_messages.c.user_id == user_id, processed_messages.c.message_id == message_id
        )
        .values(reply=data)
    )


class _NotApplied(Exception):
    """Rolls back a claim taken only to learn whether the message was applied."""


async def stored_reply(
    db: Database,
    tenant_id: UUID,
    *,
    user_id: UUID,
    message_id: str,
    routing_key: str,
    digest: bytes,
) -> Replay | None:
    """The reply stored for this user's message if it was applied with this very request;
    None otherwise (never applied, or applied to another request).

    A delivery of it still in flight is waited for, as ``claim`` waits: taking the claim
    blocks on the other's uncommitted one, then finds its reply. A claim that goes through
    (nothing was applied) is rolled back at once.
    """
    try:
        async with db.transaction(tenant_id) as uow:
            replay = await claim(
                uow,
                user_id=user_id,
                message_id=message_id,
                routing_key=routing_key,
                digest=digest,
            )
            if replay is None:
                raise _NotApplied
    except (_NotApplied, Conflict):
        return None
    return replay if replay.data else None
