"""Message entry points of the auth family."""

from contracts import auth as actions
from contracts import sessions
from contracts.auth import (
    LoginRequest,
    LoginResult,
    LogoutRequest,
    Me,
    RefreshRequest,
    SignupRequest,
)
from contracts.base import Empty
from contracts.sessions import (
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    SessionList,
    SessionRef,
    UserRef,
    VerifyEmailConfirm,
)
from workers.context import Call
from workers.ids import parse_id
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("auth")


@router.handles(actions.AUTH_SIGNUP)
async def signup(request: SignupRequest, call: Call, runtime: Runtime) -> LoginResult:
    """Create a tenant and its owner, logged in."""
    return await runtime.auth.signup(request, call)


@router.handles(actions.AUTH_LOGIN)
async def login(request: LoginRequest, call: Call, runtime: Runtime) -> LoginResult:
    """Log in with tenant slug, email and password."""
    return await runtime.auth.login(request, call)


@router.handles(actions.AUTH_REFRESH)
async def refresh(request: RefreshRequest, call: Call, runtime: Runtime) -> LoginResult:
    """Rotate a refresh token."""
    return await runtime.auth.refresh(request, call)


@router.handles(actions.AUTH_LOGOUT)
async def logout(request: LogoutRequest, call: Call, runtime: Runtime) -> None:
    """End the caller's session."""
    await runtime.auth.logout(call)


@router.handles(actions.AUTH_ME)
async def me(request: Empty, call: Call, runtime: Runtime) -> Me:
    """The caller's user, tenant, role and permissions."""
    return await runtime.auth.me(call)


@router.handles(sessions.AUTH_LOGOUT_ALL)
async def logout_all(request: LogoutRequest, call: Call, runtime: Runtime) -> None:
    """End every session of the caller."""
    await runtime.session_control.end_all_own(call)


@router.handles(sessions.AUTH_SESSIONS_LIST)
async def sessions_list(request: Empty, call: Call, runtime: Runtime) -> SessionList:
    """The caller's live sessions."""
    return await runtime.session_control.list_own(call)


@router.handles(sessions.AUTH_SESSION_DELETE)
async def session_delete(request: SessionRef, call: Call, runtime: Runtime) -> None:
    """End one of the caller's sessions."""
    await runtime.session_control.end_own(call, parse_id(request.id, "session"))


@router.handles(sessions.AUTH_USER_SESSIONS_LIST)
async def user_sessions_list(request: UserRef, call: Call, runtime: Runtime) -> SessionList:
    """A user's live sessions, for an admin."""
    return await runtime.session_control.list_of_user(call, parse_id(request.id, "user"))


@router.handles(sessions.AUTH_USER_SESSIONS_REVOKE)
async def user_sessions_revoke(request: UserRef, call: Call, runtime: Runtime) -> None:
    """End every session of a user, for an admin."""
    await runtime.session_control.end_all_of_user(call, parse_id(request.id, "user"))


@router.handles(sessions.AUTH_PASSWORD_CHANGE)
async def password_change(request: PasswordChange, call: Call, runtime: Runtime) -> None:
    """Change the caller's password; other sessions end."""
    await runtime.passwords.change(request, call)


@router.handles(sessions.AUTH_PASSWORD_RESET_REQUEST)
async def password_reset_request(
    request: PasswordResetRequest, call: Call, runtime: Runtime
) -> None:
    """Ask for a password reset token; always accepted."""
    await runtime.passwords.request_reset(request, call)


@router.handles(sessions.AUTH_PASSWORD_RESET_CONFIRM)
async def password_reset_confirm(
    request: PasswordResetConfirm, call: Call, runtime: Runtime
) -> None:
    """Set a password with a reset or invitation token."""
    await runtime.passwords.confirm_reset(request, call)


@router.handles(sessions.AUTH_VERIFY_EMAIL_REQUEST)
async def verify_email_request(request: Empty, call: Call, runtime: Runtime) -> None:
    """Ask for an email verification token."""
    await runtime.passwords.request_verification(call)


@router.handles(sessions.AUTH_VERIFY_EMAIL_CONFIRM)
async def verify_email_confirm(request: VerifyEmailConfirm, call: Call, runtime: Runtime) -> None:
    """Confirm the email address."""
    await runtime.passwords.confirm_verification(request, call)
