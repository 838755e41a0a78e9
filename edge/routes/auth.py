"""HTTP routes of the auth family (SPEC 4.3)."""

from contracts import auth as actions
from contracts import sessions
from edge.routes.model import HttpRoute

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute(
        "POST",
        "/v1/tenants",
        actions.AUTH_SIGNUP,
        status=201,
        tags=("auth",),
        location=lambda _: "/v1/tenant",  # the new owner's own tenant
    ),
    HttpRoute("POST", "/v1/auth/login", actions.AUTH_LOGIN, tags=("auth",)),
    HttpRoute("POST", "/v1/auth/refresh", actions.AUTH_REFRESH, tags=("auth",)),
    HttpRoute("POST", "/v1/auth/logout", actions.AUTH_LOGOUT, status=204, tags=("auth",)),
    HttpRoute("GET", "/v1/auth/me", actions.AUTH_ME, tags=("auth",)),
    HttpRoute(
        "POST", "/v1/auth/logout-all", sessions.AUTH_LOGOUT_ALL, status=204, tags=("sessions",)
    ),
    HttpRoute("GET", "/v1/auth/sessions", sessions.AUTH_SESSIONS_LIST, tags=("sessions",)),
    HttpRoute(
        "DELETE",
        "/v1/auth/sessions/{id}",
        sessions.AUTH_SESSION_DELETE,
        status=204,
        tags=("sessions",),
    ),
    HttpRoute(
        "POST", "/v1/auth/password", sessions.AUTH_PASSWORD_CHANGE, status=204, tags=("auth",)
    ),
    HttpRoute(
        "POST",
        "/v1/auth/password-reset/request",
        sessions.AUTH_PASSWORD_RESET_REQUEST,
        status=202,
        tags=("auth",),
    ),
    HttpRoute(
        "POST",
        "/v1/auth/password-reset/confirm",
        sessions.AUTH_PASSWORD_RESET_CONFIRM,
        status=204,
        tags=("auth",),
    ),
    HttpRoute(
        "POST",
        "/v1/auth/verify-email/request",
        sessions.AUTH_VERIFY_EMAIL_REQUEST,
        status=202,
        tags=("auth",),
    ),
    HttpRoute(
        "POST",
        "/v1/auth/verify-email/confirm",
        sessions.AUTH_VERIFY_EMAIL_CONFIRM,
        status=204,
        tags=("auth",),
    ),
    HttpRoute(
        "GET", "/v1/users/{id}/sessions", sessions.AUTH_USER_SESSIONS_LIST, tags=("sessions",)
    ),
    HttpRoute(
        "DELETE",
        "/v1/users/{id}/sessions",
        sessions.AUTH_USER_SESSIONS_REVOKE,
        status=204,
        tags=("sessions",),
    ),
)

# Actions whose result opens or rotates a session: tokens go to cookies in cookie mode.
SESSION_RESULTS = frozenset(
    {actions.AUTH_SIGNUP.key, actions.AUTH_LOGIN.key, actions.AUTH_REFRESH.key}
)
# Actions that take the refresh token from its cookie when the body has none.
REFRESH_FROM_COOKIE = frozenset({actions.AUTH_REFRESH.key})
