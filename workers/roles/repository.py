"""SQL for roles. Runs inside a unit of work; RLS scopes every statement."""

import uuid
from datetime import datetime
from uuid import UUID

from sqlalchemy import insert

from contracts.permissions import BUILTIN_ROLES
from workers.tables import roles
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
