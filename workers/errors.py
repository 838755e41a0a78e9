"""The domain's error root; mapped to a reply error in one place (workers.dispatch)."""

from contracts.envelope import FieldError
from contracts.errors import ErrorCode


class DomainError(Exception):
    code: ErrorCode = ErrorCode.INVALID_REQUEST
    default_message = "request refused"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[FieldError] | None = None,
        retry_after: int | None = None,
        keeps_changes: bool = False,
    ) -> None:
        super().__init__(message or self.default_message)
        # True when the work done before the error must still commit (the transaction of
        # a once-only message otherwise rolls back with the error).
        self.keeps_changes = keeps_changes
        self.message = message or self.default_message
        self.details = details
        self.retry_after = retry_after


class InvalidRequest(DomainError):
    code = ErrorCode.INVALID_REQUEST
    default_message = "invalid request"


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "authentication required"


class InvalidCredentials(DomainError):
    code = ErrorCode.INVALID_CREDENTIALS
    default_message = "invalid credentials"


class RefreshTokenReused(DomainError):
    code = ErrorCode.REFRESH_TOKEN_REUSED
    default_message = "refresh token was already used; the session has been ended"


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN
    default_message = "permission denied"


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_message = "not found"


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    default_message = "conflict"


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    default_message = "payload too large"


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED
    default_message = "too many attempts; retry later"


class Unavailable(DomainError):
    code = ErrorCode.UNAVAILABLE
    default_message = "a dependency is unavailable; retry later"


class DeadlinePassed(DomainError):
    """The caller's budget ran out before the changes were committed: rolled back, so a
    caller answered 504 was not told the truth about something that then happened."""

    code = ErrorCode.TIMEOUT
