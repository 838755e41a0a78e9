"""Request ids and W3C trace context (``traceparent``), carried from HTTP through the
broker (SPEC 8)."""

import re
import secrets
import uuid
from dataclasses import dataclass

_REQUEST_ID_CHARS = re.compile(r"[A-Za-z0-9._:/+=-]+")

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str = "01"

    @classmethod
    def parse(cls, header: str | None) -> "TraceContext | None":
        match = _TRACEPARENT.match((header or "").strip().lower())
        if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
            return None
        return cls(match[1], match[2], match[3])

    @classmethod
    def new(cls) -> "TraceContext":
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    def child(self) -> "TraceContext":
        """The same trace with a new span: this hop's own identity."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def new_request_id(given: str | None) -> str:
    """Echo a sane request id (letters, digits and ``-_.:/+=``, as UUIDs, trace ids and
    most log formats use, up to 128); otherwise make one. It goes into headers, logs,
    error bodies and the audit trail, so spaces, controls and markup are not echoed,
    whether it came over HTTP (``X-Request-ID``) or AMQP (``x-request-id``)."""
    if given and len(given) <= 128 and _REQUEST_ID_CHARS.fullmatch(given):
        return given
    return str(uuid.uuid4())
