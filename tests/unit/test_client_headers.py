"""Which client a worker believes a message came from (idp.security.client_headers)."""

from dataclasses import dataclass, field
from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage
from pydantic import SecretStr

from idp.security.client_headers import sign, signing_key
from workers.context import Client
from workers.incoming import client_of

KEY = signing_key(SecretStr("k" * 40))
DEADLINE = 1_900_000_000_000


@dataclass
class _Message:
    """The properties ``_client`` reads, as a broker delivery has them."""

    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = "m-1"
    user_id: str | None = None


def _client_of(message: _Message) -> Client:
    return client_of(cast(AbstractIncomingMessage, message), KEY)


def _signed(ip: str, agent: str, key: bytes = KEY, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "x-client-ip": ip,
        "x-user-agent": agent,
        "x-deadline": DEADLINE,
        "x-client-sig": sign(key, message_id, DEADLINE, ip, agent),
    }


def test_headers_the_edge_signed_are_believed() -> None:
    assert _client_of(_Message(_signed("10.0.0.7", "curl/8"))) == Client(
        "10.0.0.7", "curl/8", vouched=True
    )


def test_headers_a_publisher_wrote_itself_are_neither_counted_nor_recorded() -> None:
    forged = [
        {"x-client-ip": "203.0.113.66", "x-user-agent": "x"},  # no signature
        {**_signed("10.0.0.7", "curl/8"), "x-client-ip": "203.0.113.66"},  # another address
        _signed("10.0.0.7", "curl/8", key=signing_key(SecretStr("o" * 40))),  # another key
        _signed("10.0.0.7", "curl/8", message_id="m-2"),  # lifted from another message
        {**_signed("10.0.0.7", "curl/8"), "x-deadline": DEADLINE + 1},  # another deadline
        # Not ASCII: hmac.compare_digest raised TypeError on it, and the worker crashed.
        {**_signed("10.0.0.7", "curl/8"), "x-client-sig": "é" * 64},
        {**_signed("10.0.0.7", "curl/8"), "x-client-sig": "\udcff"},
    ]
    for headers in forged:
        assert _client_of(_Message(headers)) == Client(), headers
    assert _client_of(_Message(_signed("10.0.0.7", "curl/8"), message_id=None)) == Client()


def test_an_unvouched_publisher_is_counted_by_its_broker_account() -> None:
    assert _client_of(_Message(user_id="billing")).rate_key == "broker:billing"
    assert _client_of(_Message()).rate_key == "-"
    assert _client_of(_Message(_signed("10.0.0.7", ""))).rate_key == "10.0.0.7"
