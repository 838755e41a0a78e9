"""SQL for roles. Runs inside a unit of work; RLS scopes every statement."""

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update

from contracts.permissions import BUILTIN_ROLES
from contracts.roles import Role
from workers.tables import roles, users
from workers.uow import UnitOfWork

BUILTIN_DESCRIPTIONS = {
    "owner": "Every permission, including tenant management",
    "admin": "Every permission but tenant management",
    "member": "Reads the directory and works with files",
}


async def insert_builtin_roles(uow: UnitOfWork, tenant_id: UUID, now: datetime) -> dict[str, UUID]:
    """Create owner, admin and member for a new tenant; returns their ids by name."""
    ids = {name: uuid.uuid4() for name in BUILTIN_ROLES}
    await uow.connection.execute(
        insert(roles),
        [
            {
                "id": ids[name],
                "tenant_id": tenant_id,
                "name": name,
                "description": BUILTIN_DESCRIPTIONS[name],
                "permissions": list(permissions),
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            for name, permissions in BUILTIN_ROLES.items()
        ],
    )
    return ids


def _view(row: Any) -> Role:
    return Role(
        id=row.id,
        name=row.name,
        description=row.description,
        permissions=sorted(row.permissions),
        builtin=row.builtin,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_roles(uow: UnitOfWork) -> list[Role]:
    """Built-ins first (owner, admin, member), then custom roles by name."""
    rows = await uow.connection.execute(
        select(roles).order_by(roles.c.builtin.desc(), roles.c.created_at, roles.c.name)
    )
    return [_view(row) for row in rows]


async def role_by_id(uow: UnitOfWork, role_id: UUID, *, lock: bool = False) -> Role | None:
    query = select(roles).where(roles.c.id == role_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.connection.execute(query)).one_or_none()
    return _view(row) if row is not None else None


async def role_by_name(
    uow: UnitOfWork, name: str, *, lock: bool = False, share: bool = False
) -> Role | None:
    """``share``: the role cannot be changed or deleted until this transaction ends."""
    query = select(roles).where(roles.c.name == name)
    if lock or share:
        query = query.with_for_update(read=share and not lock)
    row = (await uow.connection.execute(query)).one_or_none()
    return _view(row) if row is not None else None


async def insert_role(
    uow: UnitOfWork,
    *,
    tenant_id: UUID,
    name: str,
    description: str,
    permissions: list[str],
    now: datetime,
) -> Role:
    row = (
        await uow.connection.execute(
            insert(roles)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                name=name,
                description=description,
                permissions=permissions,
                builtin=False,
                created_at=now,
                updated_at=now,
            )
            .returning(roles)
        )
    ).one()
    return _view(row)


async def update_role(uow: UnitOfWork, role_id: UUID, now: datetime, **values: Any) -> Role:
    row = (
        await uow.connection.execute(
            update(roles)
            .where(roles.c.id == role_id)
            .values(updated_at=now, **values)
            .returning(roles)
        )
    ).one()
    return _view(row)


async def delete_role(uow: UnitOfWork, role_id: UUID) -> None:
    await uow.connection.execute(delete(roles).where(roles.c.id == role_id))


async def holder_count(uow: UnitOfWork, role_id: UUID) -> int:
    """How many users (whatever their status) hold the role."""
    result = await uow.connection.execute(
        select(func.count()).select_from(users).where(users.c.role_id == role_id)
    )
    return int(result.scalar_one())
