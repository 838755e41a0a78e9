"""The reply envelope every request gets (SPEC 5)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from contracts.errors import STATUS, ErrorCode


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    status: int
    details: list[FieldError] | None = None
    retry_after: int | None = None


class ReplyOk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[True] = True
    data: Any = None


class ReplyError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[False] = False
    error: ErrorBody


def error_reply(
    code: ErrorCode,
    message: str,
    *,
    details: list[FieldError] | None = None,
    retry_after: int | None = None,
) -> ReplyError:
    """Build the error envelope with the status SPEC 4 assigns to ``code``."""
    return ReplyError(
        error=ErrorBody(
            code=code,
            message=message,
            status=STATUS[code],
            details=details,
            retry_after=retry_after,
        )
    )
