"""Typed exceptions built from SPEC 4's error shape.

Every non-2xx answer becomes an :class:`IdpError` subclass chosen by the HTTP status;
the platform's own ``code`` (``invalid_credentials``, ``token_expired``, ...) is kept as
a string so new codes never break an old client.
"""

from typing import Any


class IdpError(Exception):
    """An error answer from the platform (or a transport failure mapped onto one)."""

    status: int = 0

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or []
        self.retry_after = retry_after


class InvalidRequest(IdpError):
    """400: malformed JSON or failed validation; ``details`` lists the fields."""


class Unauthenticated(IdpError):
    """401: missing, invalid, expired or revoked token, or bad credentials."""


class Forbidden(IdpError):
    """403: authenticated but lacking the permission, or the CSRF check failed."""


class NotFound(IdpError):
    """404: not found, or it belongs to another tenant."""


class Conflict(IdpError):
    """409: uniqueness or state conflict."""


class PayloadTooLarge(IdpError):
    """413: the body is over the limit."""


class RateLimited(IdpError):
    """429: rate limited or account temporarily locked; see ``retry_after``."""


class Unavailable(IdpError):
    """503: no broker or no worker available (retrying later is safe)."""


class Timeout(IdpError):
    """504: no reply within the request budget (a retry with the same Idempotency-Key is safe)."""


ERRORS_BY_STATUS: dict[int, type[IdpError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
    503: Unavailable,
    504: Timeout,
}

_DEFAULT_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


def error_from_response(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: str | None = None,
) -> IdpError:
    """The exception for one error answer; tolerant of bodies not in the error shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or _DEFAULT_CODES.get(status, "internal_error"))
    message = str(error.get("message") or f"HTTP {status}")
    details = error.get("details")
    cls = ERRORS_BY_STATUS.get(status, IdpError)
    return cls(
        status,
        code,
        message,
        request_id=str(error.get("request_id") or request_id or "") or None,
        details=details if isinstance(details, list) else None,
        retry_after=_seconds(retry_after),
    )


def _seconds(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
