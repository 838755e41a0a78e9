"""Every HTTP route of SPEC 4.3, family by family."""

from edge.routes import auth, files, roles, users
from edge.routes.model import HttpRoute

ROUTES: tuple[HttpRoute, ...] = (*auth.ROUTES, *users.ROUTES, *roles.ROUTES, *files.ROUTES)

__all__ = ["ROUTES", "HttpRoute"]
