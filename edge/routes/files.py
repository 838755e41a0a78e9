"""HTTP routes of the files family (SPEC 4.3)."""

from contracts import files as actions
from edge.routes.model import HttpRoute

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute(
        "POST",
        "/v1/files",
        actions.FILES_CREATE,
        status=201,
        tags=("files",),
        location=lambda data: f"/v1/files/{data['file']['id']}",
    ),
    HttpRoute("GET", "/v1/files", actions.FILES_LIST, query=("limit", "cursor"), tags=("files",)),
    HttpRoute("GET", "/v1/files/{id}", actions.FILES_GET, tags=("files",)),
    HttpRoute("POST", "/v1/files/{id}/complete", actions.FILES_COMPLETE, tags=("files",)),
    HttpRoute("DELETE", "/v1/files/{id}", actions.FILES_DELETE, status=204, tags=("files",)),
)
