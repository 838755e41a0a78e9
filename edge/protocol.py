"""HTTP the parser refuses still gets SPEC 4's error shape, and never reaches the logs.

aiohttp answers a request its parser cannot read (a control character in a header, a
bad chunk size, ``Content-Length: abc``, too many headers, an unknown encoding) before
any middleware runs, with a plain-text 400 that quotes the offending line and no
``X-Request-ID``; its logger writes the same line, which may be an ``Authorization``
header, with a traceback. ``EdgeRunner`` serves with a protocol whose error answer is
the JSON error shape with a request id, and whose log line names only the kind of error.

aiohttp also waits without a bound for a request's headers: a client that sends them a
byte at a time (slowloris), or stops half-way, held its connection forever. Here the
headers of each request must arrive within the request budget (``REQUEST_TIMEOUT_SECONDS``,
as its body must, edge/gateway.py): after that the connection gets the same 400 in the
error shape and is closed, or is closed silently if it sent nothing at all.
"""

import asyncio
import logging
import uuid
from typing import Any

from aiohttp import web, web_server
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from contracts.errors import ErrorCode
from edge.errors import ApiError, error_response, harden

log = logging.getLogger("idp.edge")
# aiohttp's parser refuses long lines with a bare-text 400 before any middleware runs:
# these limits let the answer take the error shape. They differ by one byte so that a
# LineTooLong says which it was: the request target (414) or a header field (431).
FIELD_LIMIT = 64 * 1024
TARGET_LIMIT = FIELD_LIMIT + 1


class HeadersLate(HttpProcessingError):
    """The request's headers did not arrive within the request budget."""


def _error_for(status: int, exc: BaseException | None) -> ApiError:
    if isinstance(exc, HeadersLate):
        return ApiError(ErrorCode.INVALID_REQUEST, "the request headers did not arrive in time")
    if isinstance(exc, LineTooLong) and exc.args[1:2] == (TARGET_LIMIT,):
        # The request line (its target) ran past its limit: RFC 9112 3 says 414.
        return ApiError(ErrorCode.INVALID_REQUEST, "the request target is too long", status=414)
    if isinstance(exc, LineTooLong) or "headers" in str(exc or "").lower():
        return ApiError(ErrorCode.HEADERS_TOO_LARGE, "request headers are too large")
    if status == 413:
        return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large")
    if status >= 500:
        return ApiError(ErrorCode.INTERNAL, "internal error", status=500)
    return ApiError(ErrorCode.INVALID_REQUEST, "malformed HTTP request", status=400)


class _ShapedErrors(RequestHandler):
    __slots__ = ("_headers_begun", "_headers_due")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._headers_due: asyncio.TimerHandle | None = None
        self._headers_begun = False
        super().connection_made(transport)
        self._await_headers()  # a new connection owes its first request's headers

    def data_received(self, data: bytes) -> None:
        if (self._force_close or self._close) and self._request_in_progress:
            # Shutting down (SIGTERM) while a request's body is still arriving: aiohttp
            # drops whatever arrives from then on, so the request waited out its budget
            # and was answered 400 "the body did not arrive in time" for the server's
            # shutdown. The body is let in; the connection still ends after this request.
            closing = self._force_close, self._close
            self._force_close = self._close = False
            try:
                super().data_received(data)
            finally:
                self._force_close, self._close = closing
            return
        idle = self._waiter is not None and not self._waiter.done()
        super().data_received(data)
        if self._messages:  # a request's headers are complete: it is being served
            self._headers_arrived()
        elif data and (idle or self._headers_due is not None):
            # The first bytes of a request (the connection was idle between requests),
            # or more of headers already awaited; body bytes arrive while a request is
            # served (no waiter) and start nothing.
            self._headers_begun = True
            if self._headers_due is None:
                self._await_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        budget: float = getattr(self._manager, "header_timeout", 0.0)
        if budget > 0:
            self._headers_due = self._loop.call_later(budget, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
        self._headers_due, self._headers_begun = None, False

    def _headers_late(self) -> None:
        self._headers_due = None
        waiter = self._waiter
        if self._force_close or self._close or self._messages:
            return
        if not self._headers_begun or waiter is None or waiter.done():
            self.force_close()  # nothing asked: nothing to answer
            if self.transport is not None:
                self.transport.close()
            return
        # Answered through aiohttp's own path for unparsable requests (handle_error).
        late = HeadersLate(message="request headers did not arrive in time")
        self._messages.append((_ErrInfo(status=400, exc=late, message=late.message), EMPTY_PAYLOAD))
        waiter.set_result(None)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        request_id = str(uuid.uuid4())  # the request's own cannot be trusted, if read
        refused = _error_for(status, exc)
        # The exception's text quotes what the client sent (possibly a token): only its
        # kind is logged, with the status and request id the client gets (a 431 was
        # logged as 400, and the id the client could report was in no line).
        log.warning(
            "malformed HTTP request",
            extra={
                "request_id": request_id,
                "status": refused.status,
                "error": type(exc).__name__ if exc else None,
            },
        )
        if request.writer.output_size > 0:
            raise ConnectionError("a response is already under way; closing the connection")
        response = error_response(refused, request_id)
        response.headers["X-Request-ID"] = request_id
        harden(response, "")
        response.force_close()
        return response


class _EdgeServer(web_server.Server):
    header_timeout: float

    def __call__(self) -> RequestHandler:
        handler: RequestHandler = _ShapedErrors(self, loop=self._loop, **self._kwargs)
        return handler


class EdgeRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unparsable requests in the error shape,
    and must deliver each request's headers within ``header_timeout`` seconds."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _EdgeServer  # same object and state; only __call__ differs
        server.header_timeout = self._header_timeout  # type: ignore[attr-defined]
        return server
