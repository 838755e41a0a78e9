"""``/openapi.json`` and ``/docs`` (Swagger UI 5, which renders OpenAPI 3.1, served from
the ``openapi-ui-bundles`` package: no CDN)."""

from aiohttp import web
from openapi_ui_bundles import swagger_ui

from edge.cookies import cookie_names
from edge.errors import json_response
from edge.middleware import ExpectHandler
from edge.openapi import build_openapi
from edge.routes.model import HttpRoute
from idp.settings import Settings

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>idp API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "BaseLayout"});
</script></body></html>
"""


def add_api_docs(
    app: web.Application,
    routes: tuple[HttpRoute, ...],
    settings: Settings,
    expect: ExpectHandler,
) -> None:
    document = build_openapi(routes, cookie_names(settings).access)

    async def openapi(request: web.Request) -> web.Response:
        return json_response(document)

    async def docs(request: web.Request) -> web.Response:
        return web.Response(text=DOCS_PAGE, content_type="text/html")

    app.router.add_get("/openapi.json", openapi, expect_handler=expect)
    app.router.add_get("/docs", docs, expect_handler=expect)
    app.router.add_static("/docs/static", swagger_ui.static_path)
