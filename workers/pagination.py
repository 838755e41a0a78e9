"""Opaque keyset cursors: base64url of the last row's sort key (timestamp, id)."""

import base64
import binascii
from datetime import datetime
from uuid import UUID

import orjson

from contracts.envelope import FieldError
from workers.errors import InvalidRequest


def encode_cursor(at: datetime, row_id: UUID) -> str:
    raw = orjson.dumps([at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The sort key a cursor names; 400 for anything we did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = orjson.loads(raw)
        key = datetime.fromisoformat(at), UUID(row_id)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        key = None
    if key is None or key[0].tzinfo is None:
        raise InvalidRequest(
            "invalid cursor", details=[FieldError(field="cursor", message="not a cursor")]
        )
    return key
