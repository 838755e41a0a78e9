"""A message whose properties cannot be decoded costs that message, not the connection.

pamqp decodes a content header's properties as the frame arrives, inside aiormq's
connection reader. A property it cannot turn into Python (a ``message_id`` or
``correlation_id`` that is not UTF-8, a ``timestamp`` beyond ``datetime``'s range, a
header name that is not UTF-8) raised there and closed the whole connection: every
family's consumer stopped, the message was redelivered into the next connection and
closed that one too, and from ``idp.dead.intake`` (no delivery limit) it did so forever.
Anyone allowed to publish could stop every worker with one message.

The frame itself is sound (its sizes decoded), so the stream can go on: ``install()``
makes the properties that decoded before the bad one stand, leaves the rest unset, and
names the problem in the header ``UNDECODABLE_HEADER``. The worker answers such a
request 400 without applying it (workers/dispatch.py), to its ``reply_to`` if that
decoded; the edge drops such a reply like any it cannot match.
"""

import struct

from pamqp import header

UNDECODABLE_HEADER = "x-idp-undecodable-properties"
# What pamqp's decoders raise on a value they cannot represent (UnicodeDecodeError is a
# ValueError; datetime.fromtimestamp raises OverflowError or OSError out of range).
_VALUE_ERRORS = (ValueError, OverflowError, OSError)


def _unmarshal(self: header.ContentHeader, data: bytes) -> None:
    # As pamqp's ContentHeader.unmarshal, but a property it cannot decode is reported in
    # the headers instead of raised; a frame whose sizes or flags do not decode still is.
    self.class_id, self.weight, self.body_size = struct.unpack(">HHQ", data[0:12])
    offset, flags = self._get_flags(data[12:])
    properties = self.properties
    try:
        properties.unmarshal(flags, data[12 + offset :])
    except _VALUE_ERRORS as exc:
        failed = next(
            (
                name
                for name in properties.__slots__
                if flags & properties.flags[name] and getattr(properties, name) is None
            ),
            "properties",
        )
        headers = properties.headers if isinstance(properties.headers, dict) else {}
        problem = f"{failed}: {type(exc).__name__}"
        properties.headers = {**headers, UNDECODABLE_HEADER: problem}


def install() -> None:
    """Replace pamqp's content header decoding, once per process (idempotent)."""
    header.ContentHeader.unmarshal = _unmarshal  # type: ignore[method-assign]


def undecodable(headers: object) -> str | None:
    """What could not be decoded in a message with these headers, or None."""
    if isinstance(headers, dict):
        problem = headers.get(UNDECODABLE_HEADER)
        return str(problem) if problem is not None else None
    return None
