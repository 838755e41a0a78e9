"""Errors of the files family, on top of the domain's root (workers.errors)."""

from contracts.errors import ErrorCode
from workers.errors import DomainError


class UnsupportedMediaType(DomainError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    default_message = "this content type is not allowed"
