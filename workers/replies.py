"""Where a reply may go, and the connection it goes out on (SPEC 5: every request gets a
reply; docs/messages.md, "Replies").

A request names its reply queue itself, and the worker publishes there with its own
broker rights, which reach every queue. So a publisher could have the platform write into
queues it may not write to itself, and a dead direct reply-to name makes RabbitMQ close
the publishing connection with 541 INTERNAL_ERROR (3.10; the name is decoded into a
process that no longer exists). Two defences:

- ``refusal``: a reply goes to direct reply-to, a server-named queue (``amq.gen-...``, a
  name nobody can guess), a queue ``ext.<account>.…`` of the account that published
  (RabbitMQ vouches for ``user_id``), or another name outside ``amq.`` and ``idp.``
  (trusted systems' own queues). Anything else is refused and nothing is applied.
- ``ReplyPublisher``: replies to other publishers than the edge go out on a connection
  that consumes nothing, so a broker error caused by one reply costs that connection
  (opened again for the next reply), not the consumers of every family queue. Replies to
  the edge, whose requests it signs (idp.security.client_headers), stay on the channel
  the request came on: the reply is routed before the ack that follows it.
"""

import asyncio
import contextlib
import logging
import re

import aio_pika
from aio_pika.abc import AbstractConnection
from aiormq.abc import AbstractChannel as AmqpChannel
from aiormq.exceptions import AMQPError
from pamqp.commands import Basic

log = logging.getLogger("idp.worker")

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
# RabbitMQ rewrites a request's ``amq.rabbitmq.reply-to`` into this pseudo-queue name,
# whose suffix is base64 and dots.
_DIRECT = re.compile(r"amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=._-]+")
_SERVER_NAMED = re.compile(r"amq\.gen-[A-Za-z0-9_-]+")
_RESERVED = ("amq.", "idp.")
_ACCOUNT_PREFIX = "ext."
# One retry: the first publish after a broker error finds the connection closed.
PUBLISH_ATTEMPTS = 2


def refusal(reply_to: str, user_id: str | None) -> str | None:
    """Why the worker will not reply to ``reply_to`` for a message from ``user_id``
    (the broker account RabbitMQ vouches for), or None when it will."""
    if _DIRECT.fullmatch(reply_to) or _SERVER_NAMED.fullmatch(reply_to):
        return None
    if reply_to.startswith(_RESERVED):
        return (
            "reply_to names a queue of the broker or the platform; use direct reply-to "
            "or a queue of your own"
        )
    if reply_to.startswith(_ACCOUNT_PREFIX) and not (
        user_id and reply_to.startswith(f"{_ACCOUNT_PREFIX}{user_id}.")
    ):
        return "reply_to names an ext. queue of another broker account; set user_id"
    return None


class ReplyLost(Exception):
    """A reply could not be published, even on a connection opened again for it."""


class ReplyPublisher:
    """Publishes the replies to other publishers than the edge on a connection of its
    own, opened again after a broker error.

    Without publisher confirms: a confirm would tell the worker nothing the requester
    does not learn itself (docs/reliability.md). A reply that fails on a fresh connection
    too is given up (``ReplyLost``): its destination is the likely cause, and a
    redelivery would only repeat it.
    """

    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url
        self._connection: AbstractConnection | None = None
        self._channel: AmqpChannel | None = None
        self._opening = asyncio.Lock()

    async def publish(self, routing_key: str, body: bytes, properties: Basic.Properties) -> None:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            channel = await self._open()
            try:
                await channel.basic_publish(
                    body, exchange="", routing_key=routing_key, properties=properties
                )
                return
            except (AMQPError, ConnectionError) as exc:
                await self._discard(channel)
                if attempt == PUBLISH_ATTEMPTS:
                    raise ReplyLost(routing_key) from exc
                log.warning("reply connection lost; opening it again", extra={"error": repr(exc)})

    async def _open(self) -> AmqpChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._opening:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            await self._close_connection()
            connection = await aio_pika.connect(
                self._url, client_properties={"connection_name": "idp worker replies"}
            )
            self._connection = connection
            self._channel = await (await connection.channel()).get_underlay_channel()
            return self._channel

    async def _discard(self, channel: AmqpChannel) -> None:
        async with self._opening:
            if self._channel is channel:
                self._channel = None
                await self._close_connection()

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        async with self._opening:
            self._channel = None
            await self._close_connection()
