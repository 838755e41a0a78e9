"""The edge's error root and the one place it becomes the HTTP error shape (SPEC 4)."""

from typing import Any

import orjson
from aiohttp import web

from contracts.envelope import FieldError
from contracts.errors import STATUS, ErrorCode


class ApiError(Exception):
    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        details: list[FieldError] | list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
        ends_connection: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        # The request's body was not read to its end: the connection cannot carry another
        # request, so the answer says ``Connection: close`` (RFC 9112 9.6).
        self.ends_connection = ends_connection
        self.message = message
        self.status = status or STATUS[code]
        self.details = details
        self.retry_after = retry_after


def json_response(data: Any, status: int = 200) -> web.Response:
    return raw_json_response(orjson.dumps(data), status)


def raw_json_response(body: bytes, status: int = 200) -> web.Response:
    """A response whose body is already JSON."""
    return web.Response(body=body, status=status, content_type="application/json")


def error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    """SPEC 4's error shape: ``{"error": {"code", "message", "request_id", "details"?}}``."""
    body: dict[str, Any] = {
        "code": error.code.value,
        "message": error.message,
        "request_id": request_id,
    }
    if error.details:
        body["details"] = [
            d.model_dump() if isinstance(d, FieldError) else d for d in error.details
        ]
    return {"error": body}


def error_response(
    error: ApiError, request_id: str, *, token_presented: bool = False
) -> web.Response:
    """The error shape, with the headers its status calls for: ``Retry-After`` on a 429
    or 503 (a second when nothing says longer), ``WWW-Authenticate`` on a 401."""
    response = json_response(error_body(error, request_id), status=error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    elif error.status == 503:
        response.headers["Retry-After"] = "1"
    if error.status == 401:
        # RFC 9110 11.6.1: a 401 names its scheme; RFC 6750 3.1 says why a token failed,
        # and says nothing when the request carried none.
        challenge = 'Bearer realm="idp"'
        if (why := _TOKEN_REFUSED.get(error.code)) is not None:
            challenge += f', error="invalid_token", error_description="{why}"'
        elif token_presented and error.code == ErrorCode.UNAUTHENTICATED:
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


# Static files served under it may be cached; every other answer is private or changes.
_CACHEABLE_PREFIX = "/docs/"


def harden(response: web.StreamResponse, path: str) -> None:
    """Headers every answer of an identity API carries: no version in ``Server``, no
    content sniffing, no framing, and no caching of anything but the docs' static files
    (answers hold tokens, presigned URLs, personal data)."""
    headers = response.headers
    headers["Server"] = "idp"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    if "Cache-Control" not in headers and not path.startswith(_CACHEABLE_PREFIX):
        headers["Cache-Control"] = "no-store"


_TOKEN_REFUSED = {
    ErrorCode.TOKEN_EXPIRED: "the token expired",
    ErrorCode.REFRESH_TOKEN_REUSED: "the refresh token was already used",
}
