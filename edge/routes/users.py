"""HTTP routes of the users family: the tenant, its users, its audit trail (SPEC 4.3)."""

from contracts import users as actions
from edge.routes.model import HttpRoute

_PAGE = ("limit", "cursor")

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("GET", "/v1/tenant", actions.USERS_TENANT_GET, tags=("tenant",)),
    HttpRoute("PATCH", "/v1/tenant", actions.USERS_TENANT_UPDATE, tags=("tenant",)),
    HttpRoute(
        "GET",
        "/v1/users",
        actions.USERS_LIST,
        query=(*_PAGE, "q", "role", "status"),
        tags=("users",),
    ),
    HttpRoute(
        "POST",
        "/v1/users",
        actions.USERS_CREATE,
        status=201,
        tags=("users",),
        location=lambda data: f"/v1/users/{data['id']}",
    ),
    HttpRoute("GET", "/v1/users/{id}", actions.USERS_GET, tags=("users",)),
    HttpRoute("PATCH", "/v1/users/{id}", actions.USERS_UPDATE, tags=("users",)),
    HttpRoute("DELETE", "/v1/users/{id}", actions.USERS_DELETE, status=204, tags=("users",)),
    HttpRoute("PUT", "/v1/users/{id}/role", actions.USERS_SET_ROLE, tags=("users", "roles")),
    HttpRoute(
        "GET", "/v1/audit", actions.USERS_AUDIT_LIST, query=(*_PAGE, "action"), tags=("audit",)
    ),
)
