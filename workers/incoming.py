"""What a request message says beyond its body's contract: its headers as text, the
client behind it, its deadline, whether this delivery is its last (SPEC 5)."""

from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage

from contracts.actions import DEADLINE_HEADER
from idp.security import client_headers
from idp.security.client_headers import CLIENT_IP_HEADER, SIGNATURE_HEADER, USER_AGENT_HEADER
from idp.settings import Settings
from workers.context import Client


def raw_header(message: AbstractIncomingMessage, name: str) -> Any:
    """A header's value as it came. ``name`` is lower case; AMQP header names are
    case-sensitive, but publishers bring HTTP's habits (``Authorization``), so another
    case counts when the exact name is absent."""
    headers = message.headers or {}
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def header(message: AbstractIncomingMessage, name: str) -> str | None:
    """A header's value as text (``raw_header``); a byte string (AMQP ``x``) is UTF-8."""
    value = raw_header(message, name)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value) if value is not None else None


def client_of(message: AbstractIncomingMessage, key: bytes) -> Client:
    """The client the edge vouched for with ``x-client-sig``; for any other publisher,
    only its broker account, which RabbitMQ vouches for (``user_id``): an address or user
    agent it names itself is neither counted nor recorded (SPEC 5: a publisher can do
    nothing an anonymous HTTP client cannot)."""
    ip = header(message, CLIENT_IP_HEADER)
    user_agent = header(message, USER_AGENT_HEADER)
    signature = header(message, SIGNATURE_HEADER)
    deadline = raw_header(message, DEADLINE_HEADER)
    if (
        signature is not None
        and message.message_id
        and isinstance(deadline, int)
        and client_headers.verify(
            key, signature, message.message_id, deadline, ip or "", user_agent or ""
        )
    ):
        return Client(ip=ip or None, user_agent=user_agent or None, vouched=True)
    return Client(publisher=message.user_id or None)


def body_of(message: AbstractIncomingMessage) -> Any:
    """The request's JSON (an empty body is no fields); orjson.JSONDecodeError if none."""
    return orjson.loads(message.body) if message.body else {}


def deadline_of(message: AbstractIncomingMessage) -> float | None:
    """When the caller's budget ends (epoch seconds), if the message says.

    A message's ``expiration`` is enforced only while it waits in the queue: once
    delivered into a worker's prefetch it would be applied however long it waited there,
    after its caller had been answered 504. The edge's ``x-deadline`` header (ms since the
    epoch) says when; a publisher that sets only ``expiration`` and ``timestamp`` (whole
    seconds) gets the same check a second coarser.
    """
    deadline = raw_header(message, DEADLINE_HEADER)
    if isinstance(deadline, int | float) and not isinstance(deadline, bool):
        return deadline / 1000
    expiration = message.expiration  # seconds, as aio-pika decodes it
    if message.timestamp is not None and isinstance(expiration, int | float):
        return message.timestamp.timestamp() + expiration + 1
    return None


def is_last_delivery(message: AbstractIncomingMessage, settings: Settings) -> bool:
    count = (message.headers or {}).get("x-delivery-count")
    if isinstance(count, int):  # quorum queues count redeliveries
        return count + 1 >= settings.max_deliveries
    return bool(message.redelivered)
