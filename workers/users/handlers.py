"""Message entry points of the users family."""

from contracts import users as actions
from contracts.base import Empty
from contracts.models import Tenant, User
from contracts.users import (
    AuditPage,
    CreateUserRequest,
    ListAuditRequest,
    ListUsersRequest,
    SetRoleRequest,
    UpdateTenantRequest,
    UpdateUserRequest,
    UserIdRequest,
    UserPage,
)
from workers.context import Call
from workers.encoded import Encoded
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("users")


@router.handles(actions.USERS_LIST)
async def list_users(request: ListUsersRequest, call: Call, runtime: Runtime) -> Encoded[UserPage]:
    """One page of the tenant's users."""
    return await runtime.users.list(request, call)


@router.handles(actions.USERS_CREATE)
async def create_user(request: CreateUserRequest, call: Call, runtime: Runtime) -> User:
    """Create or invite a user."""
    return await runtime.users.create(request, call)


@router.handles(actions.USERS_GET)
async def get_user(request: UserIdRequest, call: Call, runtime: Runtime) -> User:
    """One user."""
    return await runtime.users.get(request, call)


@router.handles(actions.USERS_UPDATE)
async def update_user(request: UpdateUserRequest, call: Call, runtime: Runtime) -> User:
    """Rename, disable or re-enable a user."""
    return await runtime.users.update(request, call)


@router.handles(actions.USERS_DELETE)
async def delete_user(request: UserIdRequest, call: Call, runtime: Runtime) -> None:
    """Delete a user."""
    await runtime.users.delete(request, call)


@router.handles(actions.USERS_SET_ROLE)
async def set_role(request: SetRoleRequest, call: Call, runtime: Runtime) -> User:
    """Give a user another role."""
    return await runtime.users.set_role(request, call)


@router.handles(actions.USERS_TENANT_GET)
async def get_tenant(request: Empty, call: Call, runtime: Runtime) -> Tenant:
    """The caller's tenant."""
    return await runtime.tenant.get(call)


@router.handles(actions.USERS_TENANT_UPDATE)
async def update_tenant(request: UpdateTenantRequest, call: Call, runtime: Runtime) -> Tenant:
    """Rename the tenant or change its settings."""
    return await runtime.tenant.update(request, call)


@router.handles(actions.USERS_AUDIT_LIST)
async def list_audit(request: ListAuditRequest, call: Call, runtime: Runtime) -> AuditPage:
    """The tenant's audit trail, newest first."""
    return await runtime.tenant.audit_trail(request, call)
