"""Built-in and custom roles: list, read, create, change, delete (SPEC 4.3)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from contracts.roles import (
    PERMISSION_DESCRIPTIONS,
    CreateRoleRequest,
    PermissionCatalogue,
    PermissionView,
    Role,
    RoleIdRequest,
    RoleList,
    UpdateRoleRequest,
)
from workers.context import Call
from workers.errors import Conflict, NotFound
from workers.ids import parse_id
from workers.journal import audit, emit
from workers.permission_check import PermissionCheck
from workers.roles import repository as roles
from workers.roles.guards import require_grantable
from workers.uow import Database, UnitOfWork

NAME_TAKEN = "a role with this name already exists"
BUILTIN_READ_ONLY = "built-in roles cannot be changed or deleted"


class RolesService:
    def __init__(
        self, *, db: Database, permissions: PermissionCheck, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._permissions = permissions
        self._clock = clock

    async def list(self, call: Call) -> RoleList:
        """Every role of the tenant, built-ins first."""
        async with self._db.transaction(call.tenant_id) as uow:
            return RoleList(items=await roles.list_roles(uow))

    async def get(self, request: RoleIdRequest, call: Call) -> Role:
        role_id = parse_id(request.id, "role")
        async with self._db.transaction(call.tenant_id) as uow:
            role = await roles.role_by_id(uow, role_id)
        if role is None:
            raise NotFound("role not found")
        return role

    async def create(self, request: CreateRoleRequest, call: Call) -> Role:
        """A custom role, holding only permissions the caller holds."""
        caller = call.caller
        actor = await self._permissions.current(caller)
        require_grantable(actor.permissions, request.permissions)
        try:
            async with self._db.transaction(caller.tid) as uow:
                role = await roles.insert_role(
                    uow,
                    tenant_id=caller.tid,
                    name=request.name,
                    description=request.description,
                    permissions=request.permissions,
                    now=self._clock(),
                )
                await self._record(uow, call, "role.created", role, {"role": _dump(role)})
        except IntegrityError:
            raise Conflict(NAME_TAKEN) from None
        return role

    async def update(self, request: UpdateRoleRequest, call: Call) -> Role:
        """Change a custom role; its holders' requests follow at once."""
        caller = call.caller
        role_id = parse_id(request.id, "role")
        actor = await self._permissions.current(caller)
        try:
            async with self._db.transaction(caller.tid) as uow:
                current = await self._lock_custom(uow, role_id)
                # Editing a role is granting (or taking away) all it holds, before and after.
                require_grantable(actor.permissions, current.permissions)
                changes: dict[str, Any] = {}
                if request.name is not None and request.name != current.name:
                    changes["name"] = request.name
                if request.description is not None and request.description != current.description:
                    changes["description"] = request.description
                if request.permissions is not None and request.permissions != current.permissions:
                    require_grantable(actor.permissions, request.permissions)
                    changes["permissions"] = request.permissions
                if not changes:
                    return current
                role = await roles.update_role(uow, role_id, self._clock(), **changes)
                await self._permissions.forget_tenant(uow, caller.tid)
                await self._record(
                    uow,
                    call,
                    "role.updated",
                    role,
                    {"role": _dump(role), "changes": sorted(changes)},
                )
        except IntegrityError:
            raise Conflict(NAME_TAKEN) from None
        return role

    async def delete(self, request: RoleIdRequest, call: Call) -> None:
        """Delete a custom role that nobody holds."""
        caller = call.caller
        role_id = parse_id(request.id, "role")
        actor = await self._permissions.current(caller)
        async with self._db.transaction(caller.tid) as uow:
            role = await self._lock_custom(uow, role_id)
            require_grantable(actor.permissions, role.permissions)
            holders = await roles.holder_count(uow, role_id)
            if holders:
                raise Conflict(f"the role is held by {holders} user(s); reassign them first")
            await roles.delete_role(uow, role_id)
            await self._permissions.forget_tenant(uow, caller.tid)
            await self._record(
                uow, call, "role.deleted", role, {"role_id": str(role.id), "name": role.name}
            )

    def catalogue(self) -> PermissionCatalogue:
        """The fixed permission catalogue."""
        return PermissionCatalogue(
            items=[
                PermissionView(name=name, description=description)
                for name, description in PERMISSION_DESCRIPTIONS.items()
            ]
        )

    async def _lock_custom(self, uow: UnitOfWork, role_id: UUID) -> Role:
        role = await roles.role_by_id(uow, role_id, lock=True)
        if role is None:
            raise NotFound("role not found")
        if role.builtin:
            raise Conflict(BUILTIN_READ_ONLY)
        return role

    async def _record(
        self, uow: UnitOfWork, call: Call, action: str, role: Role, data: dict[str, Any]
    ) -> None:
        audit(
            uow,
            call,
            tenant_id=call.tenant_id,
            action=action,
            actor_id=call.caller.sub,
            target_type="role",
            target_id=role.id,
            data={"name": role.name, **{k: v for k, v in data.items() if k != "role"}},
        )
        emit(uow, tenant_id=call.tenant_id, event_type=action, data=data)


def _dump(role: Role) -> dict[str, Any]:
    return role.model_dump(mode="json")
