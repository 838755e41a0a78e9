"""SQL for users and tenants. Runs inside a unit of work; RLS scopes every statement."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update

from contracts.models import Tenant, User
from workers.tables import roles, tenants, users
from workers.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class UserRecord:
    view: User
    password_hash: str | None
    role_id: UUID
    permissions: tuple[str, ...]


_USER_COLUMNS = (
    users.c.id,
    users.c.tenant_id,
    users.c.email,
    users.c.name,
    users.c.status,
    users.c.email_verified,
    users.c.created_at,
    users.c.updated_at,
    users.c.password_hash,
    users.c.role_id,
    roles.c.name.label("role"),
    roles.c.permissions,
)
_USER_JOIN = users.join(
    roles, (roles.c.id == users.c.role_id) & (roles.c.tenant_id == users.c.tenant_id)
)


def _record(row: Any) -> UserRecord:
    view = User(
        id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        name=row.name,
        role=row.role,
        status=row.status,
        email_verified=row.email_verified,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return UserRecord(view, row.password_hash, row.role_id, tuple(row.permissions))


async def tenant_id_by_slug(uow: UnitOfWork, slug: str) -> UUID | None:
    """The only cross-tenant read: a SECURITY DEFINER function returning just the id."""
    result = await uow.connection.execute(select(func.idp_tenant_id_by_slug(slug)))
    tenant_id: UUID | None = result.scalar_one()
    return tenant_id


async def insert_tenant(
    uow: UnitOfWork, *, tenant_id: UUID, slug: str, name: str, now: datetime
) -> Tenant:
    row = (
        await uow.connection.execute(
            insert(tenants)
            .values(id=tenant_id, slug=slug, name=name, settings={}, created_at=now, updated_at=now)
            .returning(tenants)
        )
    ).one()
    return tenant_view(row)


def tenant_view(row: Any) -> Tenant:
    return Tenant(
        id=row.id, slug=row.slug, name=row.name, settings=row.settings, created_at=row.created_at
    )


async def get_tenant(uow: UnitOfWork, tenant_id: UUID) -> Tenant | None:
    row = (
        await uow.connection.execute(select(tenants).where(tenants.c.id == tenant_id))
    ).one_or_none()
    return tenant_view(row) if row is not None else None


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
    row = (
        await uow.connection.execute(
            select(*_USER_COLUMNS).select_from(_USER_JOIN).where(users.c.id == user_id)
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def user_by_email(uow: UnitOfWork, email: str) -> UserRecord | None:
    row = (
        await uow.connection.execute(
            select(*_USER_COLUMNS)
            .select_from(_USER_JOIN)
            .where(func.lower(users.c.email) == email.lower())
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def set_password_hash(
    uow: UnitOfWork, user_id: UUID, password_hash: str, now: datetime
) -> None:
    await uow.connection.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )
