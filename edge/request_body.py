"""What an HTTP request brings beyond its headers: its fields (JSON body, query and path
parameters) and its ``Idempotency-Key``, each checked so that a malformed one is a 4xx."""

import asyncio
from typing import Any

import orjson
from aiohttp import web

from contracts.errors import ErrorCode
from edge.errors import ApiError
from edge.origins import UNSAFE_METHODS
from edge.routes.model import HttpRoute


async def request_fields(
    request: web.Request, route: HttpRoute, max_body_bytes: int, read_seconds: float
) -> dict[str, Any]:
    """The request's fields: its JSON body (an object), the route's query parameters and
    its path parameters. Every way a body can be wrong is a 4xx here, never a 500."""
    payload: dict[str, Any] = {}
    if request.method in UNSAFE_METHODS and request.body_exists:
        if not _framed_by_chunks_only(request.headers.getall("Transfer-Encoding", [])):
            # aiohttp undoes ``chunked`` and passes any other transfer coding on as raw
            # bytes: a proxy in front that decoded it would read another body than this.
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                "unsupported Transfer-Encoding: only chunked",
                ends_connection=True,
            )
        if (request.content_length or 0) > max_body_bytes:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large")
        if not _decodable(request.headers.getall("Content-Encoding", [])):
            # aiohttp decodes the codings it knows and passes any other as raw
            # bytes, which would then be read as if they were not encoded at all.
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                "unsupported Content-Encoding: send the body as is, gzip or deflate",
            )
        try:
            # Bounded: a client that announces a body and stops sending it holds
            # nothing open past the request budget (SPEC 7: never a hang).
            async with asyncio.timeout(read_seconds):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "request body is too large") from None
        except TimeoutError:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                "the request body did not arrive in time",
                ends_connection=True,
            ) from None
        except web.RequestPayloadError:
            # A body that is not what its headers say (a Content-Encoding that does not
            # decode, a chunk that does not parse). Nothing more is read from it: marked
            # ended, aiohttp does not try to drain it after the answer, which raised the
            # same error again and logged it as an unhandled exception (an error line
            # with a traceback, for anyone's asking).
            request.content.feed_eof()
            raise ApiError(
                ErrorCode.INVALID_REQUEST, "the request body is malformed", ends_connection=True
            ) from None
        except ConnectionResetError:
            # The client went away mid-body: its fault, logged and counted as a 400 (it
            # gets no answer), not an unhandled error and a 500 any client could cause.
            raise ApiError(
                ErrorCode.INVALID_REQUEST, "the connection closed before the body arrived"
            ) from None
        if raw.strip():
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ApiError(
                    ErrorCode.INVALID_REQUEST,
                    "body is not valid JSON (UTF-8, no NaN or Infinity)",
                ) from None
            if not isinstance(decoded, dict):
                raise ApiError(ErrorCode.INVALID_REQUEST, "body must be a JSON object")
            payload = decoded
    for name in route.query:
        given = request.query.getall(name, [])
        if len(given) > 1:
            # Which one counts differs between servers, proxies and caches in front.
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                f"query parameter {name} is given more than once",
                details=[{"field": name, "message": "give it once"}],
            )
        # An empty parameter (``?q=&cursor=``, a form or a URL template filled in
        # partly) means "not given": no filter, the first page, the default limit.
        if given and given[0]:
            payload[name] = given[0]
    payload.update(request.match_info)
    return payload


# The codings left to aiohttp: it decodes the first four; br and zstd need libraries this
# edge does not have, and aiohttp refuses those itself (edge/protocol.py).
_DECODABLE_CODINGS = frozenset({"", "identity", "gzip", "deflate", "br", "zstd"})


def _decodable(codings: list[str]) -> bool:
    """One coding at most, and one aiohttp decodes: a list (``gzip, gzip``) or an unknown
    name would otherwise be taken as an unencoded body."""
    if len(codings) > 1:
        return False
    return not codings or codings[0].strip().lower() in _DECODABLE_CODINGS


def _framed_by_chunks_only(transfer_encodings: list[str]) -> bool:
    codings = [c.strip().lower() for value in transfer_encodings for c in value.split(",")]
    # Empty list elements do not count (RFC 9110 5.6.1).
    return all(coding == "chunked" for coding in codings if coding)


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, the AMQP ``message_id``; an empty header means
    "not given", like an empty query parameter."""
    message_id = request.headers.get("Idempotency-Key") or None
    if message_id is not None and not _is_message_id(message_id):
        raise ApiError(
            ErrorCode.INVALID_REQUEST,
            "Idempotency-Key must be 1 to 200 bytes of printable UTF-8",
            details=[{"field": "Idempotency-Key", "message": "1 to 200 bytes, printable"}],
        )
    return message_id


def _is_message_id(value: str) -> bool:
    """An ``Idempotency-Key`` becomes the AMQP ``message_id``, a short string of at most
    255 bytes: valid UTF-8, printable, and 200 bytes at most leave room to spare."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return 0 < size <= 200 and value.isprintable()
