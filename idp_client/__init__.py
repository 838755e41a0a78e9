"""Typed Python client of the idp HTTP API (SPEC 4.3): async, with a blocking facade.

``AsyncIdpClient`` talks bearer mode, keeps the token pair, refreshes it once when a call
gets 401 ``token_expired``/``unauthenticated``, and raises :mod:`idp_client.errors`
exceptions built from the platform's error shape. ``IdpClient`` offers the same methods,
blocking. See ``docs/client.md``.
"""

from idp_client.client import AsyncIdpClient
from idp_client.errors import (
    Conflict,
    Forbidden,
    IdpError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Timeout,
    Unauthenticated,
    Unavailable,
)
from idp_client.models import Json, Page, Tokens
from idp_client.sync import IdpClient

__all__ = [
    "AsyncIdpClient",
    "Conflict",
    "Forbidden",
    "IdpClient",
    "IdpError",
    "InvalidRequest",
    "Json",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "RateLimited",
    "Timeout",
    "Tokens",
    "Unauthenticated",
    "Unavailable",
]
