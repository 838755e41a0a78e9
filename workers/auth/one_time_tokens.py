"""Single-use tokens for invitations, password resets and email verification.

A token is ``<tenant id>.<256 random bits>``: the tenant part lets the worker scope the
lookup to that tenant with RLS (the id is not a secret); only SHA-256 of the whole token
is stored. Consuming a token marks it used in the same transaction, so it works once.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy import ColumnElement, and_, false, insert, or_, select, update

from workers.tables import one_time_tokens
from workers.uow import UnitOfWork
from workers.users.repository import hold_user

Purpose = Literal["invite", "password_reset", "verify_email"]
# The tokens that set a password: once one does (or the user changes it, or is disabled),
# the others stop working.
SET_PASSWORD_TOKENS: tuple[Purpose, ...] = ("invite", "password_reset")
EVERY_PURPOSE: tuple[Purpose, ...] = ("invite", "password_reset", "verify_email")
# Whom a token of each purpose may be issued to, checked under the user's row lock.
_ISSUED_TO: dict[Purpose, frozenset[str]] = {
    "invite": frozenset({"invited"}),
    "password_reset": frozenset({"active", "invited"}),
    "verify_email": frozenset({"active"}),
}


@dataclass(frozen=True, slots=True)
class Redeemed:
    user_id: UUID
    purpose: Purpose


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _named(token: str, purposes: tuple[Purpose, ...]) -> tuple[ColumnElement[bool], ...]:
    """The row of ``token``, if it is of one of ``purposes``."""
    return (
        one_time_tokens.c.token_hash == _digest(token),
        one_time_tokens.c.purpose.in_(purposes),
    )


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Not used yet, not expired."""
    return one_time_tokens.c.used_at.is_(None), one_time_tokens.c.expires_at > now


def tenant_of(token: str) -> UUID | None:
    """The tenant a token belongs to, or None if it is not shaped like one of ours."""
    tenant, dot, secret = token.partition(".")
    if not dot or len(secret) < 40:
        return None
    try:
        return UUID(hex=tenant)
    except ValueError:
        return None


async def issue(
    uow: UnitOfWork,
    *,
    tenant_id: UUID,
    user_id: UUID,
    purpose: Purpose,
    ttl: timedelta,
    now: datetime,
) -> str | None:
    """A new token; earlier unused tokens of the same purpose for the user stop working.
    None if the user no longer exists, or no longer has a status the purpose is for
    (disabled meanwhile).

    Under the user's row lock (``FOR UPDATE``), status read again there: a weaker lock let
    two issuers at once each miss the other's token (up to 10 of 10 parallel reset
    mails stayed usable), and one that had read the user before a disabling committed
    insert its token after the disabling had voided the others, so re-enabling revived
    it (an audit: 25 of 30 rounds)."""
    status = await uow.fetchrow("SELECT status FROM users WHERE id = $1 FOR UPDATE", user_id)
    if status is None or status["status"] not in _ISSUED_TO[purpose]:
        return None
    token = f"{tenant_id.hex}.{secrets.token_urlsafe(32)}"
    await uow.connection.execute(
        update(one_time_tokens)
        .where(
            one_time_tokens.c.user_id == user_id,
            one_time_tokens.c.purpose == purpose,
            one_time_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    await uow.connection.execute(
        insert(one_time_tokens).values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            user_id=user_id,
            purpose=purpose,
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def redeemer(message_id: str | None) -> bytes | None:
    """What a token remembers of the message that spent it; None without a message id."""
    if not message_id:
        return None
    return hashlib.sha256(b"idp redeem v1\0" + message_id.encode()).digest()


async def redeem(
    uow: UnitOfWork,
    token: str,
    purposes: tuple[Purpose, ...],
    now: datetime,
    used_by: bytes | None = None,
) -> Redeemed | None:
    """Spend a live token of one of ``purposes``; None if unknown, used or expired.

    The unit of work must already be bound to ``tenant_of(token)``. ``used_by``
    (``redeemer``) lets the same message find it spent by itself (``redeemed_by``).
    The token's user is locked first, for the write to it that follows (``hold_user``).
    """
    owner = (
        await uow.connection.execute(
            select(one_time_tokens.c.user_id).where(*_named(token, purposes), *_live(now))
        )
    ).scalar_one_or_none()
    if owner is None or not await hold_user(uow, owner, exclusive=True):
        return None
    row = (
        await uow.connection.execute(
            update(one_time_tokens)
            .where(*_named(token, purposes), *_live(now))
            .values(used_at=now, used_by=used_by)
            .returning(one_time_tokens.c.user_id, one_time_tokens.c.purpose)
        )
    ).one_or_none()
    return Redeemed(row.user_id, row.purpose) if row is not None else None


async def redeemed_by(
    uow: UnitOfWork, token: str, purposes: tuple[Purpose, ...], used_by: bytes | None
) -> UUID | None:
    """The token's user if this message already spent it (it is being delivered again)."""
    if used_by is None:
        return None
    row = (
        await uow.connection.execute(
            select(one_time_tokens.c.user_id).where(
                *_named(token, purposes), one_time_tokens.c.used_by == used_by
            )
        )
    ).one_or_none()
    return row.user_id if row is not None else None


async def usable(
    uow: UnitOfWork,
    token: str,
    purposes: tuple[Purpose, ...],
    now: datetime,
    used_by: bytes | None = None,
) -> bool:
    """Whether ``redeem`` (or, for the message that spent it, ``redeemed_by``) could take
    the token: a cheap read before work that costs (hashing the new password), so that
    anyone can make a worker hash only with a token that is real."""
    spent_by_this = one_time_tokens.c.used_by == used_by if used_by is not None else false()
    row = (
        await uow.connection.execute(
            select(one_time_tokens.c.id).where(
                *_named(token, purposes), or_(and_(*_live(now)), spent_by_this)
            )
        )
    ).first()
    return row is not None


async def void(
    uow: UnitOfWork, user_id: UUID, purposes: tuple[Purpose, ...], now: datetime
) -> None:
    """Every unused token of ``purposes`` for the user stops working: once a password is
    set (a reset, an invitation completed, a change), an older invitation or reset mail
    must not set it again."""
    await uow.connection.execute(
        update(one_time_tokens)
        .where(
            one_time_tokens.c.user_id == user_id,
            one_time_tokens.c.purpose.in_(purposes),
            one_time_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
