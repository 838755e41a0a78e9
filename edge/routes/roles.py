"""HTTP routes of the roles family: roles and the permission catalogue (SPEC 4.3)."""

from contracts import roles as actions
from edge.routes.model import HttpRoute

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("GET", "/v1/roles", actions.ROLES_LIST, tags=("roles",)),
    HttpRoute(
        "POST",
        "/v1/roles",
        actions.ROLES_CREATE,
        status=201,
        tags=("roles",),
        location=lambda data: f"/v1/roles/{data['id']}",
    ),
    HttpRoute("GET", "/v1/roles/{id}", actions.ROLES_GET, tags=("roles",)),
    HttpRoute("PATCH", "/v1/roles/{id}", actions.ROLES_UPDATE, tags=("roles",)),
    HttpRoute("DELETE", "/v1/roles/{id}", actions.ROLES_DELETE, status=204, tags=("roles",)),
    HttpRoute("GET", "/v1/permissions", actions.ROLES_PERMISSIONS, tags=("roles",)),
)
