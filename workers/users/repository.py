"""SQL for users and tenants. Runs inside a unit of work; RLS scopes every statement."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import delete, func, insert, select, tuple_, update

from contracts.models import Tenant, User
from contracts.users import AuditEntry
from workers.tables import audit_log, tenants, users
from workers.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class UserRecord:
    view: User
    password_hash: str | None
    role_id: UUID
    permissions: tuple[str, ...]


# Plain SQL for the hot reads (UnitOfWork.fetch*): no SQLAlchemy layers per statement.
# ``_record`` reads the user columns, ``_tenant_of`` the tenant ones (``tenant_id`` being
# the user's or, alone, the tenant's own id).
_USER_COLUMNS = """
u.id, u.tenant_id, u.email, u.name, u.status, u.email_verified, u.created_at, u.updated_at,
u.password_hash, u.role_id, r.name AS role, r.permissions
"""
_TENANT_COLUMNS = """
t.slug AS tenant_slug, t.name AS tenant_name, t.settings AS tenant_settings,
t.created_at AS tenant_created_at
"""
_USER_JOIN = "users u JOIN roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id"
# For statements that join a user (``u``, ``r``) and tenant (``t``) themselves.
USER_AND_TENANT_COLUMNS = f"{_USER_COLUMNS}, {_TENANT_COLUMNS}"
_USER_SELECT = f"SELECT {_USER_COLUMNS} FROM {_USER_JOIN}"
_USER_BY_ID = _USER_SELECT + " WHERE u.id = $1"
# Folded by PostgreSQL on both sides, as the unique index and the login lookup fold: a
# Python-lowered argument differs from lower() for some letters (İ, a final Σ).
_USER_BY_EMAIL = _USER_SELECT + " WHERE lower(u.email) = lower($1::text)"
_STANDING = f"SELECT u.status, r.name, r.permissions FROM {_USER_JOIN} WHERE u.id = $1"
_TENANT_BY_ID = f"SELECT t.id AS tenant_id, {_TENANT_COLUMNS} FROM tenants t WHERE t.id = $1"


def _record(row: Any) -> UserRecord:
    view = User(
        id=row["id"],
        tenant_id=row["tenant_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        status=row["status"],
        email_verified=row["email_verified"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return UserRecord(view, row["password_hash"], row["role_id"], tuple(row["permissions"]))


async def tenant_id_by_slug(uow: UnitOfWork, slug: str) -> UUID | None:
    """The only cross-tenant read: a SECURITY DEFINER function returning just the id."""
    row = await uow.fetchrow("SELECT idp_tenant_id_by_slug($1) AS id", slug)
    assert row is not None
    tenant_id: UUID | None = row["id"]
    return tenant_id


async def insert_tenant(
    uow: UnitOfWork,
    *,
    tenant_id: UUID,
    slug: str,
    name: str,
    now: datetime,
    signup_key: bytes | None = None,
) -> Tenant:
    row = (
        await uow.connection.execute(
            insert(tenants)
            .values(
                id=tenant_id,
                slug=slug,
                name=name,
                settings={},
                created_at=now,
                updated_at=now,
                signup_key=signup_key,
            )
            .returning(tenants)
        )
    ).one()
    return tenant_view(row)


async def signup_key_of(uow: UnitOfWork, tenant_id: UUID) -> bytes | None:
    """The key of the sign-up that created the tenant (migration 0010), if it had one."""
    row = await uow.fetchrow("SELECT signup_key FROM tenants WHERE id = $1", tenant_id)
    return bytes(row["signup_key"]) if row is not None and row["signup_key"] else None


def tenant_view(row: Any) -> Tenant:
    return Tenant(
        id=row.id, slug=row.slug, name=row.name, settings=row.settings, created_at=row.created_at
    )


async def user_and_tenant_alone(
    db: Database, tenant_id: UUID, user_id: UUID
) -> tuple[UserRecord, Tenant] | None:
    """A user with their tenant, as one statement with no transaction around it (migration
    0008's ``idp_user_and_tenant`` binds the tenant itself): the hot path of ``auth.me``."""
    rows = await db.fetch_alone("SELECT * FROM idp_user_and_tenant($1, $2)", tenant_id, user_id)
    return with_tenant(rows[0]) if rows else None


async def login_account(
    db: Database, slug: str, email: str
) -> tuple[Tenant | None, UserRecord | None, str]:
    """The tenant a login names and its account with that e-mail, in one round trip
    (migration 0007's ``idp_login_account``); either may be None. Last, the e-mail as that
    lookup folds it (``email_key``)."""
    rows = await db.fetch_alone(_LOGIN_ACCOUNT, slug, email)
    row = rows[0]
    if row["tenant_id"] is None:
        return None, None, row["email_key"]
    return _tenant_of(row), (_record(row) if row["id"] is not None else None), row["email_key"]


# One row whether or not the tenant exists, so that the fold comes back either way.
_LOGIN_ACCOUNT = (
    "SELECT lower($2::text) AS email_key, a.*"
    " FROM (VALUES (1)) AS one LEFT JOIN idp_login_account($1, $2) AS a ON true"
)


async def email_key(uow: UnitOfWork, email: str) -> str:
    """The address as every account lookup folds it: PostgreSQL's ``lower()`` under the
    database's collation, which Python's ``lower()`` and ``casefold()`` do not match for
    every letter (İ, ß, a final Σ). Whatever keys an account by its address (the
    brute-force limit) takes this, so that no spelling of it escapes the others' key."""
    row = await uow.fetchrow("SELECT lower($1::text) AS key", email)
    assert row is not None
    key: str = row["key"]
    return key


def with_tenant(row: Any) -> tuple[UserRecord, Tenant] | None:
    """The user and tenant of a row carrying ``USER_AND_TENANT_COLUMNS``."""
    return (_record(row), _tenant_of(row)) if row is not None else None


def _tenant_of(row: Any) -> Tenant:
    return Tenant(
        id=row["tenant_id"],
        slug=row["tenant_slug"],
        name=row["tenant_name"],
        settings=row["tenant_settings"],
        created_at=row["tenant_created_at"],
    )


async def get_tenant(uow: UnitOfWork, tenant_id: UUID) -> Tenant | None:
    row = await uow.fetchrow(_TENANT_BY_ID, tenant_id)
    return _tenant_of(row) if row is not None else None


async def insert_user(
    uow: UnitOfWork,
    *,
    user_id: UUID,
    tenant_id: UUID,
    email: str,
    name: str,
    password_hash: str | None,
    status: str,
    role_id: UUID,
    now: datetime,
) -> None:
    await uow.connection.execute(
        insert(users).values(
            id=user_id,
            tenant_id=tenant_id,
            email=email,
            name=name,
            password_hash=password_hash,
            status=status,
            role_id=role_id,
            email_verified=False,
            created_at=now,
            updated_at=now,
        )
    )


async def user_by_id(uow: UnitOfWork, user_id: UUID) -> UserRecord | None:
    row = await uow.fetchrow(_USER_BY_ID, user_id)
    return _record(row) if row is not None else None


async def standing(uow: UnitOfWork, user_id: UUID) -> tuple[str, str, list[str]] | None:
    """A user's status, role name and the role's permissions: what the permission check
    reads (workers/permission_check.py); None if there is no such user."""
    row = await uow.fetchrow(_STANDING, user_id)
    return (row["status"], row["name"], list(row["permissions"])) if row is not None else None


async def user_by_email(uow: UnitOfWork, email: str) -> UserRecord | None:
    row = await uow.fetchrow(_USER_BY_EMAIL, email)
    return _record(row) if row is not None else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_users(
    db: Database,
    tenant_id: UUID,
    *,
    limit: int,
    after: tuple[datetime, UUID] | None,
    q: str | None,
    role: str | None,
    status: str | None,
) -> list[asyncpg.Record]:
    """Up to ``limit`` of the tenant's users in (created_at, id) order, strictly after the
    cursor's key: rows with exactly ``User``'s fields, in its order (workers.encoded).
    One statement with no transaction around it (migration 0009's ``idp_user_page``
    binds the tenant itself)."""
    return await db.fetch_alone(
        "SELECT * FROM idp_user_page($1, $2, $3, $4, $5, $6, $7)",
        tenant_id,
        limit,
        after[0] if after is not None else None,
        after[1] if after is not None else None,
        f"%{_escape_like(q)}%" if q is not None else None,
        role,
        status,
    )


async def lock_users(uow: UnitOfWork, user_ids: list[UUID]) -> dict[UUID, UserRecord]:
    """The users, their rows locked until the transaction ends, always in id order, so
    two transactions locking the same pair (two admins acting on each other) queue
    instead of deadlocking."""
    ids = sorted(set(user_ids))
    # Locked alone, then read: a locking read through the join with roles would, for a
    # row another transaction re-roled meanwhile, re-check the join against the old role
    # row and drop the user from the result (PostgreSQL's EvalPlanQual).
    await uow.execute("SELECT 1 FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids)
    rows = await uow.fetch(_USER_SELECT + " WHERE u.id = ANY($1::uuid[])", ids)
    return {record.view.id: record for record in map(_record, rows)}


async def hold_user(uow: UnitOfWork, user_id: UUID, *, exclusive: bool = False) -> bool:
    """Lock the user's row before writing rows that belong to it (their tokens, a file
    they create); False if the user no longer exists. Every change to a user locks its
    row first (``lock_users``), so taking it first here too makes the two queue instead
    of deadlocking (each holding what the other waits for: a 503 after a second).
    ``KEY SHARE`` only keeps the row from being deleted (and waits for a change in
    progress); ``exclusive`` (``FOR UPDATE``) is for a write to the row that follows."""
    strength = "UPDATE" if exclusive else "KEY SHARE"
    row = await uow.fetchrow(f"SELECT 1 FROM users WHERE id = $1 FOR {strength}", user_id)
    return row is not None


async def login_standing(uow: UnitOfWork, user_id: UUID) -> tuple[str, str | None] | None:
    """A user's status and password hash, share-locked until the transaction ends: a
    password reset, a change or a disabling (which update the row) waits for a login that
    read them first, and a login waits for one of those that wrote first."""
    row = await uow.fetchrow(
        "SELECT status, password_hash FROM users WHERE id = $1 FOR SHARE", user_id
    )
    return (row["status"], row["password_hash"]) if row is not None else None


async def update_user(uow: UnitOfWork, user_id: UUID, now: datetime, **values: Any) -> None:
    await uow.connection.execute(
        update(users).where(users.c.id == user_id).values(updated_at=now, **values)
    )


async def delete_user(uow: UnitOfWork, user_id: UUID) -> None:
    await uow.connection.execute(delete(users).where(users.c.id == user_id))


async def count_active_holders(uow: UnitOfWork, role_id: UUID, *, except_user: UUID) -> int:
    result = await uow.connection.execute(
        select(func.count())
        .select_from(users)
        .where(users.c.role_id == role_id, users.c.status == "active", users.c.id != except_user)
    )
    return int(result.scalar_one())


async def update_tenant(
    uow: UnitOfWork, tenant_id: UUID, now: datetime, **values: Any
) -> Tenant | None:
    row = (
        await uow.connection.execute(
            update(tenants)
            .where(tenants.c.id == tenant_id)
            .values(updated_at=now, **values)
            .returning(tenants)
        )
    ).one_or_none()
    return tenant_view(row) if row is not None else None


async def lock_tenant(uow: UnitOfWork, tenant_id: UUID) -> Tenant | None:
    """The tenant, locked against other updates until the transaction ends. ``FOR NO KEY
    UPDATE``, not ``FOR UPDATE``: the message's own idempotency record (its foreign key
    takes ``KEY SHARE`` on this row) and any other row referencing the tenant must not
    conflict with it, or two updates at once each wait for the other's key share (a
    deadlock, answered 503, that repeats on every retry)."""
    row = (
        await uow.connection.execute(
            select(tenants).where(tenants.c.id == tenant_id).with_for_update(key_share=True)
        )
    ).one_or_none()
    return tenant_view(row) if row is not None else None


async def list_audit(
    uow: UnitOfWork, *, limit: int, before: tuple[datetime, UUID] | None, action: str | None
) -> list[AuditEntry]:
    """Up to ``limit`` entries, newest first, strictly before the cursor's key."""
    query = select(audit_log)
    if before is not None:
        query = query.where(tuple_(audit_log.c.occurred_at, audit_log.c.id) < tuple_(*before))
    if action is not None:
        query = query.where(audit_log.c.action == action)
    query = query.order_by(audit_log.c.occurred_at.desc(), audit_log.c.id.desc()).limit(limit)
    return [
        AuditEntry(
            id=row.id,
            occurred_at=row.occurred_at,
            actor_id=row.actor_id,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            data=row.data,
            request_id=row.request_id,
            ip=row.ip,
        )
        for row in await uow.connection.execute(query)
    ]
