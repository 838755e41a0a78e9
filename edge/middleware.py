"""Request id, the error shape, header limits, CORS and the access log, for every request."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

from contracts.errors import ErrorCode
from edge.cookies import presents_access_token
from edge.errors import ApiError, error_response, harden
from edge.gateway import Gateway
from edge.metrics import EdgeMetrics
from edge.request_keys import PRINCIPAL, REQUEST_ID, SUBJECT, TRACE
from edge.requester import RpcTimeout, RpcUnavailable
from idp.security.revocation import RevocationUnavailable
from idp.security.tokens import AccessClaims, TokenError
from idp.tracing import TraceContext, new_request_id

log = logging.getLogger("idp.edge")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[None]]
# Every request header the edge reads, the W3C trace context included (a browser app that
# sent traceparent cross-origin had its request blocked by the preflight).
CORS_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, X-Auth-Mode, X-Request-ID,"
    " traceparent, tracestate"
)
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
_HTTP_CODES = {
    404: (ErrorCode.NOT_FOUND, "no such route"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "method not allowed on this route"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large"),
}


def _as_api_error(exc: Exception) -> ApiError:
    match exc:
        case ApiError():
            return exc
        case TokenError():
            return ApiError(exc.code, str(exc))
        case RevocationUnavailable() | RpcUnavailable() | RedisError():
            # RedisError: the per-address count of a request the edge refuses itself.
            return ApiError(ErrorCode.UNAVAILABLE, "service temporarily unavailable; retry later")
        case RpcTimeout():
            return ApiError(ErrorCode.TIMEOUT, "no reply within the request budget")
        case web.HTTPException() if exc.status in _HTTP_CODES:
            code, message = _HTTP_CODES[exc.status]
            return ApiError(code, message)
        case web.HTTPException() if 400 <= exc.status < 500:
            return ApiError(ErrorCode.INVALID_REQUEST, exc.reason, status=exc.status)
    raise exc


def build_middleware(
    gateway_key: web.AppKey[Gateway], metrics_key: web.AppKey[EdgeMetrics], max_header_bytes: int
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request[REQUEST_ID] = request_id
        trace = TraceContext.parse(request.headers.get("traceparent")) or TraceContext.new()
        request[TRACE] = trace.child()
        gateway = request.app[gateway_key]
        metrics = request.app[metrics_key]
        metrics.in_flight.inc()
        origin = request.headers.get("Origin")
        cors = origin is not None and gateway.origins.is_cors_allowed(origin.rstrip("/"))
        try:
            if sum(len(k) + len(v) for k, v in request.raw_headers) > max_header_bytes:
                raise ApiError(ErrorCode.HEADERS_TOO_LARGE, "request headers are too large")
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                response: web.StreamResponse = web.Response(status=204)
                if cors:
                    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                    response.headers["Access-Control-Max-Age"] = "600"
            else:
                response = await handler(request)
        except asyncio.CancelledError:  # the client went away: no response, no log line
            metrics.in_flight.dec()
            raise
        except Exception as exc:  # noqa: BLE001 - every error becomes the error shape
            try:
                refused = _as_api_error(exc)
                response = error_response(
                    refused,
                    request_id,
                    token_presented=presents_access_token(request, gateway.cookies),
                )
                if refused.ends_connection:
                    response.force_close()
                if isinstance(exc, web.HTTPMethodNotAllowed):
                    response.headers["Allow"] = exc.headers.get("Allow", "")  # RFC 9110 15.5.6
            except Exception:
                log.exception("unhandled error", extra={"request_id": request_id})
                response = error_response(
                    ApiError(ErrorCode.INTERNAL, "internal error"), request_id
                )
        response.headers["X-Request-ID"] = request_id
        if response.status == 413:
            # Refused before its body was read: the rest of the body would be taken for
            # the next request on this connection, so it ends here (RFC 9110 15.5.14).
            response.force_close()
        if cors and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
        if gateway.origins.cors_enabled:
            # Any answer may differ by Origin, the refused ones included (they lack the
            # CORS headers): a cache must key on it (Fetch standard, CORS protocol).
            response.headers.add("Vary", "Origin")
        harden(response, request.path)
        metrics.in_flight.dec()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        elapsed = time.perf_counter() - started
        metrics.observe(route, request.method, response.status, elapsed)
        principal = request.get(PRINCIPAL)
        if isinstance(principal, AccessClaims):
            tenant, user = str(principal.tid), str(principal.sub)
        else:
            tenant, user = request.get(SUBJECT, (None, None))
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "trace_id": trace.trace_id,
                "status": response.status,
                "tenant": tenant,
                "user": user,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return response

    return edge_middleware


def expect_handler(max_body_bytes: int) -> ExpectHandler:
    """``Expect: 100-continue`` (RFC 9110 10.1.1), answered before the middleware runs.

    The client is told to go on only when its body can be taken: for a body announced over
    the limit it gets the 413 at once, in the error shape, instead of a ``100 Continue``
    that has it upload the whole body first (curl waits for the interim answer on large
    bodies). Any other expectation is ignored, as RFC 9110 allows, so that the request
    gets its usual answer in the error shape, not aiohttp's plain-text 417."""

    async def expect(request: web.Request) -> None:
        if request.version < (1, 1):
            return
        if request.headers.get("Expect", "").strip().lower() != "100-continue":
            return
        if (request.content_length or 0) > max_body_bytes:
            return
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not the response's size

    return expect
