"""Session control and password flows of the auth family (SPEC 4.3, 4.4, 4.5)."""

from datetime import datetime
from uuid import UUID

from contracts.actions import action
from contracts.auth import LogoutRequest
from contracts.base import (
    ClaimedEmail,
    Empty,
    GivenPassword,
    NewPassword,
    Request,
    TenantRef,
    Token,
    View,
)
from contracts.paging import ResourceId


class SessionView(View):
    id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class SessionList(View):
    items: list[SessionView]


class SessionRef(Request):
    """``DELETE /v1/auth/sessions/{id}``: one of the caller's own sessions (a malformed
    id is 404, like another user's: ``contracts.paging.ResourceId``)."""

    id: ResourceId


class UserRef(Request):
    """``/v1/users/{id}/sessions``: the user whose sessions an admin reads or ends."""

    id: ResourceId


class PasswordChange(Request):
    current_password: GivenPassword
    new_password: NewPassword


class PasswordResetRequest(Request):
    tenant: TenantRef
    email: ClaimedEmail


class PasswordResetConfirm(Request):
    token: Token
    new_password: NewPassword


class VerifyEmailConfirm(Request):
    token: Token


AUTH_LOGOUT_ALL = action(
    "auth.logout_all",
    LogoutRequest,
    None,
    authenticated=True,
    summary="End every session of the caller",
    ends_own_session=True,
)
AUTH_SESSIONS_LIST = action(
    "auth.sessions_list",
    Empty,
    SessionList,
    authenticated=True,
    summary="The caller's live sessions",
    read_only=True,
)
AUTH_SESSION_DELETE = action(
    "auth.session_delete", SessionRef, None, authenticated=True, summary="End one own session"
)
AUTH_PASSWORD_CHANGE = action(
    "auth.password_change",
    PasswordChange,
    None,
    authenticated=True,
    summary="Change the password; ends every other session",
)
AUTH_PASSWORD_RESET_REQUEST = action(
    "auth.password_reset_request",
    PasswordResetRequest,
    None,
    authenticated=False,
    summary="Ask for a reset token (always accepted)",
    address_limited=True,
)
AUTH_PASSWORD_RESET_CONFIRM = action(
    "auth.password_reset_confirm",
    PasswordResetConfirm,
    None,
    authenticated=False,
    summary="Set a password with a reset or invitation token; ends every session",
)
AUTH_VERIFY_EMAIL_REQUEST = action(
    "auth.verify_email_request",
    Empty,
    None,
    authenticated=True,
    summary="Ask for an email verification token",
)
AUTH_VERIFY_EMAIL_CONFIRM = action(
    "auth.verify_email_confirm",
    VerifyEmailConfirm,
    None,
    authenticated=False,
    summary="Confirm the email address with a verification token",
)
AUTH_USER_SESSIONS_LIST = action(
    "auth.user_sessions_list",
    UserRef,
    SessionList,
    authenticated=True,
    permission="sessions:read",
    summary="A user's live sessions (admin)",
    read_only=True,
)
AUTH_USER_SESSIONS_REVOKE = action(
    "auth.user_sessions_revoke",
    UserRef,
    None,
    authenticated=True,
    permission="sessions:revoke",
    summary="End every session of a user (admin)",
)
