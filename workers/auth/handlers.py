"""Message entry points of the auth family."""

from contracts import auth as actions
from contracts.auth import LoginRequest, LoginResult, Me, RefreshRequest, SignupRequest
from contracts.base import Empty
from workers.context import Call
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
async def logout(request: Empty, call: Call, runtime: Runtime) -> None:
    """End the caller's session."""
    await runtime.auth.logout(call)


@router.handles(actions.AUTH_ME)
async def me(request: Empty, call: Call, runtime: Runtime) -> Me:
    """The caller's user, tenant, role and permissions."""
    return await runtime.auth.me(call)
