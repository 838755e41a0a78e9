"""Domain events published on ``idp.events`` (SPEC 5): the envelope, the types and the
shape of each type's ``data``.

``workers.journal.emit`` checks every event's ``data`` against its model here, and the
AsyncAPI document is generated from the same models, so the document names what is sent.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import View
from contracts.files import File
from contracts.models import Tenant, User
from contracts.roles import Role

# Why a session ended (also its ``revoke_reason``); docs/security.md and docs/rbac.md say
# when each applies.
RevokeReason = Literal[
    "logout",
    "logout_all",
    "ended_by_user",
    "revoked_by_admin",
    "password_changed",
    "password_reset",
    "refresh_token_reused",
    "user_disabled",
    "user_deleted",
]


def _open_to_additions(schema: dict[str, Any]) -> None:
    # Emitting refuses unknown keys, so the document cannot lag behind the workers; but
    # like every view it does not promise consumers that no key will ever be added.
    schema.pop("additionalProperties", None)


class EventData(BaseModel):
    """The ``data`` of one event type: ``workers.journal.emit`` refuses any other keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_open_to_additions)


class TenantCreatedData(EventData):
    """A sign-up created the tenant (its owner follows as ``user.created``)."""

    tenant: Tenant


class TenantUpdatedData(EventData):
    """The tenant as it now is, and which of its fields changed."""

    tenant: Tenant
    changes: list[Literal["name", "settings"]]


class UserCreatedData(EventData):
    """A user created by sign-up or by an admin (``status`` is ``invited`` when invited)."""

    user: User


class UserInvitedData(EventData):
    """An invitation for a mailer to deliver: ``token`` is a single-use set-password token
    (``POST /v1/auth/password-reset/confirm`` redeems it)."""

    user: User
    token: str
    expires_at: datetime
    invited_by: UUID


class UserUpdatedData(EventData):
    """The user as they now are, and which of their fields changed: the name or status
    (an admin or the user), or the status and ``email_verified`` (a password set by
    invitation, a reset, a verified address)."""

    user: User
    changes: list[Literal["name", "status", "email_verified"]]


class UserDeletedData(EventData):
    user_id: UUID
    email: str


class UserRoleChangedData(EventData):
    """The role names before and after."""

    user_id: UUID
    from_role: str = Field(alias="from")
    to: str


class RoleCreatedData(EventData):
    role: Role


class RoleUpdatedData(EventData):
    """The role as it now is, and which of its fields changed."""

    role: Role
    changes: list[Literal["name", "description", "permissions"]]


class RoleDeletedData(EventData):
    role_id: UUID
    name: str


class SessionCreatedData(EventData):
    """A login or sign-up opened a session."""

    session_id: UUID
    user_id: UUID


class SessionRevokedData(EventData):
    session_id: UUID
    user_id: UUID
    reason: RevokeReason


class LoginSucceededData(EventData):
    """``ip`` is null when the request came from a publisher that named none."""

    user_id: UUID
    ip: str | None


class LoginFailedData(EventData):
    """``user_id`` is null when no user of the tenant has the address given."""

    user_id: UUID | None
    ip: str | None


class PasswordChangedData(EventData):
    """``how``: changed by the user, set by a reset token, or by an invitation token."""

    user_id: UUID
    how: Literal["change", "reset", "invitation"]


class _TokenForMailer(EventData):
    user_id: UUID
    email: str
    name: str
    token: str
    expires_at: datetime


class PasswordResetRequestedData(_TokenForMailer):
    """A single-use reset token for a mailer to deliver to ``email``."""


class EmailVerificationRequestedData(_TokenForMailer):
    """A single-use verification token for a mailer to deliver to ``email``."""


class FileUploadedData(EventData):
    """A completed upload passed its checks: the file, now ``ready``."""

    file: File


class FileDeletedData(EventData):
    """The file as it was before it was deleted."""

    file: File


# The order is SPEC 5's list; the AsyncAPI document follows it.
EVENT_DATA: Final[Mapping[str, type[EventData]]] = {
    "tenant.created": TenantCreatedData,
    "user.created": UserCreatedData,
    "user.invited": UserInvitedData,
    "user.updated": UserUpdatedData,
    "user.deleted": UserDeletedData,
    "user.role_changed": UserRoleChangedData,
    "role.created": RoleCreatedData,
    "role.updated": RoleUpdatedData,
    "role.deleted": RoleDeletedData,
    "session.created": SessionCreatedData,
    "session.revoked": SessionRevokedData,
    "auth.login_succeeded": LoginSucceededData,
    "auth.login_failed": LoginFailedData,
    "auth.password_changed": PasswordChangedData,
    "auth.password_reset_requested": PasswordResetRequestedData,
    "auth.email_verification_requested": EmailVerificationRequestedData,
    "file.uploaded": FileUploadedData,
    "file.deleted": FileDeletedData,
    # Beyond SPEC 5's list: a tenant renamed or its settings changed (docs/rbac.md).
    "tenant.updated": TenantUpdatedData,
}
EVENT_TYPES: Final[tuple[str, ...]] = tuple(EVENT_DATA)


class Event(View):
    """Every event has this envelope; consumers dedupe by ``id`` (delivery is at least once).
    ``data`` is the model ``EVENT_DATA[type]`` describes."""

    id: UUID
    type: str
    occurred_at: datetime
    tenant_id: UUID
    data: dict[str, Any]
