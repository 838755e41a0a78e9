"""The roles family: built-in and custom roles, the permission catalogue (SPEC 4.3)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from contracts.actions import action
from contracts.base import Empty, Request, View, readable
from contracts.paging import ResourceId
from contracts.permissions import PERMISSIONS

# Any name that reads as it is ("Editor", "Support agent", "billing:viewer";
# contracts.base.readable). Unique per tenant case-insensitively (migration 0011), so
# "Admin" and "admin" can never be two roles of one tenant, nor a custom role shadow a
# built-in.
RoleName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(readable),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
PERMISSION_DESCRIPTIONS: dict[str, str] = {
    "tenant:read": "Read the tenant's name and settings",
    "tenant:manage": "Rename the tenant and change its settings",
    "users:read": "List and read users",
    "users:write": "Create, invite, rename, disable and re-enable users",
    "users:delete": "Delete users",
    "roles:read": "List and read roles and the permission catalogue",
    "roles:write": "Create, change and delete custom roles",
    "roles:assign": "Give users a role",
    "sessions:read": "List other users' sessions",
    "sessions:revoke": "End other users' sessions",
    "files:read": "List and download files",
    "files:write": "Upload files",
    "files:delete": "Delete files",
    "audit:read": "Read the tenant's audit trail",
}

PermissionList = Annotated[list[str], Field(max_length=len(PERMISSIONS) * 2)]


def _catalogued(permissions: list[str] | None) -> list[str] | None:
    """Refuse anything outside the fixed catalogue; duplicates collapse, order is sorted."""
    if permissions is None:
        return None
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown permission(s): {', '.join(unknown)}")
    return sorted(set(permissions))


class Role(View):
    id: UUID
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    created_at: datetime
    updated_at: datetime


class RoleList(View):
    items: list[Role]


class CreateRoleRequest(Request):
    name: RoleName
    description: Description = ""
    permissions: PermissionList

    _check_permissions = field_validator("permissions")(_catalogued)


class RoleIdRequest(Request):
    id: ResourceId


class UpdateRoleRequest(Request):
    id: ResourceId
    name: RoleName | None = None
    description: Description | None = None
    permissions: PermissionList | None = None

    _check_permissions = field_validator("permissions")(_catalogued)


class PermissionView(View):
    name: str
    description: str


class PermissionCatalogue(View):
    items: list[PermissionView]


ROLES_LIST = action(
    "roles.list",
    Empty,
    RoleList,
    authenticated=True,
    permission="roles:read",
    summary="Roles",
    read_only=True,
)
ROLES_GET = action(
    "roles.get",
    RoleIdRequest,
    Role,
    authenticated=True,
    permission="roles:read",
    summary="A role",
    read_only=True,
)
ROLES_CREATE = action(
    "roles.create",
    CreateRoleRequest,
    Role,
    authenticated=True,
    permission="roles:write",
    summary="Create a custom role",
)
ROLES_UPDATE = action(
    "roles.update",
    UpdateRoleRequest,
    Role,
    authenticated=True,
    permission="roles:write",
    summary="Change a custom role",
)
ROLES_DELETE = action(
    "roles.delete",
    RoleIdRequest,
    None,
    authenticated=True,
    permission="roles:write",
    summary="Delete a custom role nobody holds",
)
ROLES_PERMISSIONS = action(
    "roles.permissions",
    Empty,
    PermissionCatalogue,
    authenticated=True,
    permission="roles:read",
    summary="The permission catalogue",
    read_only=True,
)
