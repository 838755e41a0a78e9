"""The reply envelope every request gets (SPEC 5)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

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


def validation_details(exc: ValidationError) -> list[FieldError]:
    """The ``details`` of a 400: one entry per failing field, with its dotted path."""
    return [
        FieldError(field=_field(err["loc"], err.get("ctx")), message=err["msg"])
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _field(loc: tuple[int | str, ...], ctx: dict[str, Any] | None) -> str:
    """The dotted path: pydantic's location, then the field a model's own check names
    (contracts.base: ``owner`` + ``name`` is ``owner.name``)."""
    named = str((ctx or {}).get("field") or "")
    path = [str(part) for part in loc] + ([named] if named and named != "body" else [])
    return ".".join(path) or "body"
