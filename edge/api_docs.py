"""``/openapi.json`` and ``/docs`` (Swagger UI 5, which renders OpenAPI 3.1, served from
the ``openapi-ui-bundles`` package: no CDN)."""

import asyncio
from pathlib import Path

from aiohttp import web
from openapi_ui_bundles import swagger_ui

from contracts.errors import ErrorCode
from edge.cookies import cookie_names
from edge.errors import ApiError, json_response
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

# What DOCS_PAGE loads, and nothing else of the bundle.
STATIC_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
}


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

    async def static(request: web.Request) -> web.Response:
        # The page's own files only, each read whole: aiohttp's static route decided a
        # file's status (404, 304, 416) after the middleware had logged and counted 200,
        # and answered those without the error shape.
        media_type = STATIC_FILES.get(request.match_info["name"])
        if media_type is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no such file")
        path = Path(swagger_ui.static_path) / request.match_info["name"]
        body = await asyncio.to_thread(path.read_bytes)
        response = web.Response(body=body, content_type=media_type)
        return response

    app.router.add_get("/openapi.json", openapi, expect_handler=expect)
    app.router.add_get("/docs", docs, expect_handler=expect)
    app.router.add_get("/docs/static/{name}", static, expect_handler=expect)
