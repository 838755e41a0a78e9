"""The auth family: sign-up, login, refresh, logout, me (SPEC 4.3, 4.4)."""

from typing import Literal

from pydantic import Field

from contracts.actions import action
from contracts.base import (
    ClaimedEmail,
    DisplayName,
    Email,
    Empty,
    GivenPassword,
    NewPassword,
    PresentedToken,
    Request,
    Slug,
    TenantRef,
    Token,
    View,
)
from contracts.models import Tenant, User


class OwnerIn(Request):
    email: Email
    password: NewPassword
    name: DisplayName


class SignupRequest(Request):
    slug: Slug
    name: DisplayName
    owner: OwnerIn


class LoginRequest(Request):
    tenant: TenantRef
    email: ClaimedEmail
    password: GivenPassword


class RefreshRequest(Request):
    parsed_only = frozenset({"refresh_token"})

    # Absent or empty: no token to present (a client after logout, a cookie-mode refresh
    # whose cookie is gone) is a 401, log in again (SPEC 4), not a malformed body.
    refresh_token: PresentedToken | None = None


class LoginResult(View):
    """Tokens are always in the reply; the edge moves them to cookies in cookie mode."""

    user: User
    tenant: Tenant
    expires_in: int = Field(examples=[900])
    token_type: Literal["Bearer"] = "Bearer"
    access_token: str | None = None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class Me(View):
    user: User
    tenant: Tenant
    role: str
    permissions: list[str]


AUTH_SIGNUP = action(
    "auth.signup",
    SignupRequest,
    LoginResult,
    authenticated=False,
    summary="Create a tenant, its built-in roles and its owner, logged in",
    address_limited=True,
)
AUTH_LOGIN = action(
    "auth.login",
    LoginRequest,
    LoginResult,
    authenticated=False,
    summary="Log in",
    address_limited=True,
)
AUTH_REFRESH = action(
    "auth.refresh",
    RefreshRequest,
    LoginResult,
    authenticated=False,
    summary="Rotate a refresh token",
)


class LogoutRequest(Request):
    """Logout ends the session of the access token. Bearer clients often send their
    refresh token along (RFC 7009 style); it is accepted and not needed."""

    refresh_token: Token | None = None


AUTH_LOGOUT = action(
    "auth.logout",
    LogoutRequest,
    None,
    authenticated=True,
    summary="End the current session",
    ends_own_session=True,
)
AUTH_ME = action("auth.me", Empty, Me, authenticated=True, read_only=True, summary="The caller")
