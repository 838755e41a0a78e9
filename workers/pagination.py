"""Opaque keyset cursors: base64url of the last row's sort key (timestamp, id)."""

import base64
import binascii
from datetime import UTC, datetime
from uuid import UUID

import orjson

from contracts.envelope import FieldError
from workers.errors import InvalidRequest


def encode_cursor(at: datetime, row_id: UUID) -> str:
    raw = orjson.dumps([at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The sort key a cursor names; 400 for anything that does not decode to one: not
    base64 or JSON, not a pair of strings, no time zone, or a time PostgreSQL cannot hold
    once in UTC (``9999-12-31T23:59:59-23:59`` parses, and failed to bind: a 500)."""
    key: tuple[datetime, UUID] | None = None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = orjson.loads(raw)
        if isinstance(at, str) and isinstance(row_id, str):
            when = datetime.fromisoformat(at)
            if when.tzinfo is not None:
                key = when.astimezone(UTC), UUID(row_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        key = None
    if key is None:
        raise InvalidRequest(
            "invalid cursor", details=[FieldError(field="cursor", message="not a cursor")]
        )
    return key
