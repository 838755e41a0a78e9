"""HTTP routes of the auth family (SPEC 4.3)."""

from contracts import auth as actions
from edge.routes.model import HttpRoute

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("POST", "/v1/tenants", actions.AUTH_SIGNUP, status=201, tags=("auth",)),
    HttpRoute("POST", "/v1/auth/login", actions.AUTH_LOGIN, tags=("auth",)),
    HttpRoute("POST", "/v1/auth/refresh", actions.AUTH_REFRESH, tags=("auth",)),
    HttpRoute("POST", "/v1/auth/logout", actions.AUTH_LOGOUT, status=204, tags=("auth",)),
    HttpRoute("GET", "/v1/auth/me", actions.AUTH_ME, tags=("auth",)),
)

# Actions whose result opens or rotates a session: tokens go to cookies in cookie mode.
SESSION_RESULTS = frozenset(
    {actions.AUTH_SIGNUP.key, actions.AUTH_LOGIN.key, actions.AUTH_REFRESH.key}
)
# Actions that end the caller's session: cookies are cleared.
SESSION_ENDS = frozenset({actions.AUTH_LOGOUT.key})
# Actions that take the refresh token from its cookie when the body has none.
REFRESH_FROM_COOKIE = frozenset({actions.AUTH_REFRESH.key})
