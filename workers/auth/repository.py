"""SQL for sessions and credentials. Runs inside a unit of work; RLS scopes every statement."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from sqlalchemy import func, select, update

from contracts.events import RevokeReason
from contracts.models import Tenant
from workers.tables import sessions, users
from workers.uow import Database, UnitOfWork
from workers.users.repository import USER_AND_TENANT_COLUMNS, UserRecord, with_tenant


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: UUID
    user_id: UUID
    refresh_hash: bytes
    previous_hash: bytes | None
    rotated_at: datetime | None
    grace_blob: bytes | None
    expires_at: datetime
    revoked_at: datetime | None


_INSERT_SESSION = """
INSERT INTO sessions (id, tenant_id, user_id, refresh_hash, created_at, last_used_at,
                      expires_at, user_agent, ip, opened_by, token_seed)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)
"""
_SESSION_OPENED_BY = """
SELECT id, created_at, expires_at, revoked_at, refresh_hash, token_seed
FROM sessions WHERE user_id = $1 AND opened_by = $2 FOR UPDATE
"""
_LOCK_SESSION_WITH_OWNER = f"""
SELECT s.id AS session_id, s.user_id AS session_user_id, s.refresh_hash, s.previous_hash,
       s.rotated_at, s.grace_blob, s.expires_at, s.revoked_at, {USER_AND_TENANT_COLUMNS}
FROM sessions s
LEFT JOIN users u ON u.id = s.user_id
LEFT JOIN roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
LEFT JOIN tenants t ON t.id = u.tenant_id
WHERE s.id = $1
FOR UPDATE OF s
"""
_ROTATE = """
UPDATE sessions SET refresh_hash = $2, previous_hash = $3, grace_blob = $4, rotated_at = $5,
                    last_used_at = $5, user_agent = $6, ip = $7
WHERE id = $1
"""


async def insert_session(
    uow: UnitOfWork,
    *,
    session_id: UUID,
    tenant_id: UUID,
    user_id: UUID,
    refresh_hash: bytes,
    now: datetime,
    expires_at: datetime,
    user_agent: str | None,
    ip: str | None,
    opened_by: bytes | None,
    token_seed: bytes | None,
) -> None:
    await uow.execute(
        _INSERT_SESSION,
        session_id,
        tenant_id,
        user_id,
        refresh_hash,
        now,
        expires_at,
        user_agent,
        ip,
        opened_by,
        token_seed,
    )


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session as the message that opened it left it: enough to sign its first pair again."""

    id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    refresh_hash: bytes
    token_seed: bytes


async def session_opened_by(
    uow: UnitOfWork, user_id: UUID, opened_by: bytes
) -> OpenedSession | None:
    """The session this user's message ``opened_by`` opened, locked; None if there is none."""
    row = await uow.fetchrow(_SESSION_OPENED_BY, user_id, opened_by)
    return OpenedSession(**row) if row is not None else None


async def lock_session_with_owner(
    uow: UnitOfWork, session_id: UUID
) -> tuple[SessionRecord, tuple[UserRecord, Tenant] | None] | None:
    """The session row, locked until the transaction ends (refreshes of one session queue
    up), with its user and tenant read in the same statement (None for them if the user
    is gone): a refresh's reads in one round trip."""
    return _session_and_owner(await uow.fetchrow(_LOCK_SESSION_WITH_OWNER, session_id))


async def session_and_owner(
    db: Database, tenant_id: UUID, session_id: UUID
) -> tuple[SessionRecord, tuple[UserRecord, Tenant] | None] | None:
    """The same reads without a lock or a transaction around them (migration 0009's
    ``idp_session_and_owner`` binds the tenant itself); None when the user is gone too."""
    rows = await db.fetch_alone(
        "SELECT * FROM idp_session_and_owner($1, $2)", tenant_id, session_id
    )
    return _session_and_owner(rows[0] if rows else None)


def _session_and_owner(
    row: asyncpg.Record | None,
) -> tuple[SessionRecord, tuple[UserRecord, Tenant] | None] | None:
    if row is None:
        return None
    session = SessionRecord(
        id=row["session_id"],
        user_id=row["session_user_id"],
        refresh_hash=row["refresh_hash"],
        previous_hash=row["previous_hash"],
        rotated_at=row["rotated_at"],
        grace_blob=row["grace_blob"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )
    return session, (with_tenant(row) if row["id"] is not None else None)


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a refresh rotation writes: the new pair's hash, the presented token's as the
    previous one, and the new pair sealed under the presented token (SPEC 4.4 grace)."""

    new_hash: bytes
    previous_hash: bytes
    grace_blob: bytes
    now: datetime
    user_agent: str | None
    ip: str | None

    def arguments(self) -> tuple[object, ...]:
        """In ``_ROTATE``'s order ($2 to $7); ``rotate_if_current`` maps them onto
        ``idp_rotate_session``'s, which takes the presented hash before the new one."""
        return (
            self.new_hash,
            self.previous_hash,
            self.grace_blob,
            self.now,
            self.user_agent,
            self.ip,
        )


async def rotate(uow: UnitOfWork, session_id: UUID, rotation: Rotation) -> None:
    await uow.execute(_ROTATE, session_id, *rotation.arguments())


async def rotate_if_current(
    db: Database, tenant_id: UUID, session_id: UUID, rotation: Rotation
) -> bool:
    """``rotate`` as a compare-and-set in one statement of its own (migration 0009's
    ``idp_rotate_session``): only while ``rotation.previous_hash`` is still the session's
    current hash and the session is live. False when another rotation or a revocation
    came first."""
    rows = await db.fetch_alone(
        "SELECT idp_rotate_session($1, $2, $4, $3, $5, $6, $7, $8)",
        tenant_id,
        session_id,
        *rotation.arguments(),
    )
    return bool(rows[0][0])


async def revoke(
    uow: UnitOfWork, session_ids: list[UUID], *, now: datetime, reason: RevokeReason
) -> list[tuple[UUID, UUID]]:
    """End the given sessions; returns (session id, user id) of those that were live."""
    if not session_ids:
        return []
    result = await uow.connection.execute(
        update(sessions)
        .where(sessions.c.id.in_(session_ids), sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason, grace_blob=None)
        .returning(sessions.c.id, sessions.c.user_id)
    )
    return [(row.id, row.user_id) for row in result]


async def live_session_ids(uow: UnitOfWork, user_id: UUID) -> list[UUID]:
    result = await uow.connection.execute(
        select(sessions.c.id).where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
    )
    return list(result.scalars())


@dataclass(frozen=True, slots=True)
class LiveSession:
    id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None


async def live_sessions(
    uow: UnitOfWork, user_id: UUID, now: datetime, refresh_ttl: timedelta
) -> list[LiveSession]:
    """Sessions of ``user_id`` that can still be used, newest use first: not ended, and
    their current refresh token (issued at the last rotation, or at the start) not yet
    expired. ``expires_at`` is when that happens unless the session is used: the
    absolute end, or sooner its refresh token's. An idle session used to be listed as
    live until its absolute end (up to 30 days), though nothing could revive it."""
    ends = func.least(
        func.coalesce(sessions.c.rotated_at, sessions.c.created_at) + refresh_ttl,
        sessions.c.expires_at,
    )
    result = await uow.connection.execute(
        select(
            sessions.c.id,
            sessions.c.created_at,
            sessions.c.last_used_at,
            ends.label("expires_at"),
            sessions.c.user_agent,
            sessions.c.ip,
        )
        .where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            ends > now,
        )
        .order_by(sessions.c.last_used_at.desc(), sessions.c.id)
    )
    return [LiveSession(**row._mapping) for row in result]


async def set_password(
    uow: UnitOfWork,
    user_id: UUID,
    *,
    password_hash: str,
    now: datetime,
    activate: bool = False,
    verify_email: bool = False,
) -> None:
    """Store a new password hash; optionally complete an invitation and verify the email."""
    values: dict[str, object] = {"password_hash": password_hash, "updated_at": now}
    if verify_email:
        values["email_verified"] = True
    await uow.connection.execute(update(users).where(users.c.id == user_id).values(**values))
    if activate:
        await uow.connection.execute(
            update(users)
            .where(users.c.id == user_id, users.c.status == "invited")
            .values(status="active")
        )


async def mark_email_verified(uow: UnitOfWork, user_id: UUID, now: datetime) -> None:
    await uow.connection.execute(
        update(users).where(users.c.id == user_id).values(email_verified=True, updated_at=now)
    )
