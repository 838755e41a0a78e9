"""Message entry points of the roles family."""

from contracts import roles as actions
from contracts.base import Empty
from contracts.roles import (
    CreateRoleRequest,
    PermissionCatalogue,
    Role,
    RoleIdRequest,
    RoleList,
    UpdateRoleRequest,
)
from workers.context import Call
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("roles")


@router.handles(actions.ROLES_LIST)
async def list_roles(request: Empty, call: Call, runtime: Runtime) -> RoleList:
    """Every role of the tenant."""
    return await runtime.roles.list(call)


@router.handles(actions.ROLES_GET)
async def get_role(request: RoleIdRequest, call: Call, runtime: Runtime) -> Role:
    """One role."""
    return await runtime.roles.get(request, call)


@router.handles(actions.ROLES_CREATE)
async def create_role(request: CreateRoleRequest, call: Call, runtime: Runtime) -> Role:
    """Create a custom role."""
    return await runtime.roles.create(request, call)


@router.handles(actions.ROLES_UPDATE)
async def update_role(request: UpdateRoleRequest, call: Call, runtime: Runtime) -> Role:
    """Change a custom role."""
    return await runtime.roles.update(request, call)


@router.handles(actions.ROLES_DELETE)
async def delete_role(request: RoleIdRequest, call: Call, runtime: Runtime) -> None:
    """Delete a custom role nobody holds."""
    await runtime.roles.delete(request, call)


@router.handles(actions.ROLES_PERMISSIONS)
async def permissions(request: Empty, call: Call, runtime: Runtime) -> PermissionCatalogue:
    """The permission catalogue."""
    return runtime.roles.catalogue()
