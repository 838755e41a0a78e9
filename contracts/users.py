"""The users family: the tenant, its users and its audit trail (SPEC 4.3)."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.actions import action
from contracts.base import DisplayName, Email, Empty, NewPassword, Request, View
from contracts.models import Tenant, User, UserStatus
from contracts.paging import DEFAULT_LIMIT, Cursor, PageLimit, ResourceId

RoleRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Search = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A tenant's settings, as compact JSON, once a patch is merged into them.
MAX_SETTINGS_BYTES = 16 * 1024
# A patch itself: one that replaces or removes all of them is not much larger.
MAX_SETTINGS_PATCH_BYTES = 4 * MAX_SETTINGS_BYTES


class ListUsersRequest(Request):
    limit: PageLimit = DEFAULT_LIMIT
    cursor: Cursor | None = None
    q: Search | None = None
    role: RoleRef | None = None
    status: UserStatus | None = None


class UserPage(View):
    items: list[User]
    next_cursor: str | None


class CreateUserRequest(Request):
    email: Email
    name: DisplayName
    role: RoleRef
    password: NewPassword | None = None


class UserIdRequest(Request):
    id: ResourceId


class UpdateUserRequest(Request):
    id: ResourceId
    name: DisplayName | None = None
    status: Literal["active", "disabled"] | None = None


class SetRoleRequest(Request):
    id: ResourceId
    role: RoleRef


class UpdateTenantRequest(Request):
    name: DisplayName | None = None
    # A JSON merge patch (RFC 7386) applied to the tenant's settings: null removes a key.
    settings: dict[str, Any] | None = None
    bounded: ClassVar[dict[str, int]] = {"settings": MAX_SETTINGS_PATCH_BYTES}


class ListAuditRequest(Request):
    limit: PageLimit = DEFAULT_LIMIT
    cursor: Cursor | None = None
    action: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class AuditEntry(View):
    id: UUID
    occurred_at: datetime
    actor_id: UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    data: dict[str, Any]
    request_id: str | None
    ip: str | None


class AuditPage(View):
    items: list[AuditEntry]
    next_cursor: str | None


USERS_LIST = action(
    "users.list",
    ListUsersRequest,
    UserPage,
    authenticated=True,
    permission="users:read",
    summary="List the tenant's users (keyset pagination; q, role, status filters)",
    read_only=True,
)
USERS_CREATE = action(
    "users.create",
    CreateUserRequest,
    User,
    authenticated=True,
    permission="users:write",
    summary="Create a user; without a password the user is invited",
)
# users:read, or the caller's own id: checked by the worker, which knows who "self" is.
USERS_GET = action(
    "users.get",
    UserIdRequest,
    User,
    authenticated=True,
    summary="One user (users:read, or self)",
    read_only=True,
)
USERS_UPDATE = action(
    "users.update",
    UpdateUserRequest,
    User,
    authenticated=True,
    summary="Change a user's name or status (users:write; self may change its own name)",
)
USERS_DELETE = action(
    "users.delete",
    UserIdRequest,
    None,
    authenticated=True,
    permission="users:delete",
    summary="Delete a user and end their sessions",
)
USERS_SET_ROLE = action(
    "users.set_role",
    SetRoleRequest,
    User,
    authenticated=True,
    permission="roles:assign",
    summary="Give a user another role",
)
USERS_TENANT_GET = action(
    "users.tenant_get",
    Empty,
    Tenant,
    authenticated=True,
    permission="tenant:read",
    summary="The caller's tenant",
    read_only=True,
)
USERS_TENANT_UPDATE = action(
    "users.tenant_update",
    UpdateTenantRequest,
    Tenant,
    authenticated=True,
    permission="tenant:manage",
    summary="Rename the tenant or change its settings",
)
USERS_AUDIT_LIST = action(
    "users.audit_list",
    ListAuditRequest,
    AuditPage,
    authenticated=True,
    permission="audit:read",
    summary="The tenant's audit trail, newest first",
    read_only=True,
)
