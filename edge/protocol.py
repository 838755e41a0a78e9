"""HTTP the parser refuses still gets SPEC 4's error shape, and never reaches the logs.

aiohttp answers a request its parser cannot read (a control character in a header, a
bad chunk size, ``Content-Length: abc``, too many headers, an unknown encoding) before
any middleware runs, with a plain-text 400 that quotes the offending line and no
``X-Request-ID``; its logger writes the same line, which may be an ``Authorization``
header, with a traceback. ``EdgeRunner`` serves with a protocol whose error answer is
the JSON error shape with a request id, and whose log line names only the kind of error.
"""

import logging
import uuid

from aiohttp import web, web_server
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from contracts.errors import ErrorCode
from edge.errors import ApiError, error_response

log = logging.getLogger("idp.edge")


def _error_for(status: int, exc: BaseException | None) -> ApiError:
    if isinstance(exc, LineTooLong) or "headers" in str(exc or "").lower():
        return ApiError(ErrorCode.HEADERS_TOO_LARGE, "request headers are too large")
    if status == 413:
        return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large")
    if status >= 500:
        return ApiError(ErrorCode.INTERNAL, "internal error", status=500)
    return ApiError(ErrorCode.INVALID_REQUEST, "malformed HTTP request", status=400)


class _ShapedErrors(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # The exception's text quotes what the client sent (possibly a token): only its
        # kind is logged.
        log.warning(
            "malformed HTTP request",
            extra={"status": status, "error": type(exc).__name__ if exc else None},
        )
        if request.writer.output_size > 0:
            raise ConnectionError("a response is already under way; closing the connection")
        request_id = str(uuid.uuid4())  # the request's own cannot be trusted, if read
        response = error_response(_error_for(status, exc), request_id)
        response.headers["X-Request-ID"] = request_id
        response.force_close()
        return response


class _EdgeServer(web_server.Server):
    def __call__(self) -> RequestHandler:
        handler: RequestHandler = _ShapedErrors(self, loop=self._loop, **self._kwargs)
        return handler


class EdgeRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unparsable requests in the error shape."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _EdgeServer  # same object and state; only __call__ differs
        return server
