"""The edge's RPC client: one connection, one reply consumer, a correlation map (SPEC 5).

Requests are published ``mandatory`` with publisher confirms to ``idp.rpc``; replies come
back on RabbitMQ's direct reply-to pseudo-queue of the same channel. Each call has a
budget: the message's ``expiration`` is the time left, so a request nobody picked up
dies in its queue, and the caller is answered 504 when it runs out. A late reply finds
no future under its correlation id and is dropped. When the connection is lost every
pending call fails at once with 503, and a supervisor reconnects with backoff.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity, DeliveryError

from contracts.actions import DEADLINE_HEADER, EXCHANGE_RPC
from idp.security import client_headers
from idp.security.client_headers import CLIENT_IP_HEADER, SIGNATURE_HEADER, USER_AGENT_HEADER
from idp.settings import Settings
from idp.topology import declare_topology

log = logging.getLogger("idp.edge.rpc")
REPLY_TO = "amq.rabbitmq.reply-to"


class RpcUnavailable(Exception):
    """The broker is unreachable or nothing is bound to the routing key: 503."""


class RpcTimeout(Exception):
    """No reply within the budget: 504."""


def decode_reply(body: bytes) -> dict[str, Any]:
    """A reply envelope as a dict; a body that is not one is the broker side's fault."""
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RpcUnavailable("malformed reply") from None
    if not isinstance(reply, dict):
        raise RpcUnavailable("malformed reply")
    return reply


@dataclass(frozen=True, slots=True)
class _Link:
    connection: AbstractConnection
    channel: AbstractChannel
    exchange: AbstractExchange


class Requester:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client_key = client_headers.signing_key(settings.jwt_secret)
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._probe: AbstractChannel | None = None  # queue_counts' own channel
        self._probe_lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Connect (retrying in the background) and wait up to ``wait_seconds`` for it."""
        self._supervisor = asyncio.create_task(self._supervise(), name="rpc-supervisor")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        link, self._link = self._link, None
        self._fail_pending("edge shutting down")
        if link is not None:
            with contextlib.suppress(Exception):
                await link.connection.close()

    async def call(
        self,
        routing_key: str,
        payload: dict[str, Any],
        *,
        headers: dict[str, str],
        message_id: str | None = None,
        budget: float | None = None,
    ) -> dict[str, Any]:
        """Publish one request and wait for its reply envelope, within the budget."""
        body = await self.call_raw(
            routing_key, payload, headers=headers, message_id=message_id, budget=budget
        )
        return decode_reply(body)

    async def call_raw(
        self,
        routing_key: str,
        payload: dict[str, Any],
        *,
        headers: dict[str, str],
        message_id: str | None = None,
        budget: float | None = None,
    ) -> bytes:
        """``call``, with the reply envelope as the worker encoded it (not decoded yet)."""
        link = self._link
        if link is None:
            raise RpcUnavailable("message broker unavailable")
        budget = budget if budget is not None else self._settings.request_timeout_seconds
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        message_id = message_id or uuid.uuid4().hex
        # The expiration stops at the consumer; the deadline goes on to the worker, which
        # answers a message that waited past it without applying it.
        deadline = int((time.time() + budget) * 1000)
        stamped: dict[str, Any] = {**headers, DEADLINE_HEADER: deadline}
        ip, user_agent = headers.get(CLIENT_IP_HEADER), headers.get(USER_AGENT_HEADER)
        if ip is not None or user_agent is not None:
            stamped[SIGNATURE_HEADER] = client_headers.sign(
                self._client_key, message_id, deadline, ip or "", user_agent or ""
            )
        try:
            message = aio_pika.Message(
                orjson.dumps(payload),
                content_type="application/json",
                correlation_id=correlation_id,
                reply_to=REPLY_TO,
                message_id=message_id,
                type=routing_key,
                headers=stamped,
                expiration=max(budget, 0.001),
                delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
            )
            async with asyncio.timeout(budget):
                try:
                    await link.exchange.publish(message, routing_key=routing_key, mandatory=True)
                except DeliveryError:
                    raise RpcUnavailable(f"no queue is bound to {routing_key}") from None
                except (AMQPError, ConnectionError, RuntimeError) as exc:
                    raise RpcUnavailable("message broker unavailable") from exc
                return await future
        except TimeoutError:
            raise RpcTimeout(f"no reply within {budget:g} s") from None
        finally:
            self._pending.pop(correlation_id, None)

    async def queue_counts(self, queue: str) -> tuple[int, int]:
        """``queue``'s ready messages and consumers now (a passive declare on a channel of
        its own, so that a missing queue, which closes the channel, touches no request);
        (0, 0) when the queue does not exist."""
        link = self._link
        if link is None:
            raise RpcUnavailable("message broker unavailable")
        try:
            async with self._probe_lock:
                if self._probe is None or self._probe.is_closed:
                    self._probe = await link.connection.channel(publisher_confirms=False)
                probe = self._probe
            declared = await probe.declare_queue(queue, passive=True)
        except ChannelNotFoundEntity:
            return 0, 0
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            raise RpcUnavailable("message broker unavailable") from exc
        result = declared.declaration_result
        if result is None:
            return 0, 0
        return int(result.message_count or 0), int(result.consumer_count or 0)

    def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            return  # late or unknown reply: dropped, never handed to another request
        future.set_result(message.body)

    async def _connect(self) -> _Link:
        connection = await aio_pika.connect(self._settings.amqp_url, timeout=5)
        try:
            await declare_topology(connection, self._settings)
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.get_exchange(EXCHANGE_RPC, ensure=False)
            reply_queue = await channel.get_queue(REPLY_TO, ensure=False)
            await reply_queue.consume(self._on_message, no_ack=True)
        except BaseException:
            await connection.close()
            raise
        connection.close_callbacks.add(self._on_close)
        return _Link(connection, channel, exchange)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._on_reply(message)

    def _on_close(self, *_: object) -> None:
        if self._link is not None:
            log.warning("broker connection lost; failing pending requests and reconnecting")
        self._link = None
        self._probe = None
        self._connected.clear()
        self._fail_pending("message broker connection lost")
        self._lost.set()

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RpcUnavailable(reason))

    async def _supervise(self) -> None:
        delay = 0.2
        while True:
            try:
                self._link = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means retry later
                log.warning(
                    "broker connect failed; retrying",
                    extra={"error": repr(exc)[:200], "retry_in": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self._lost.clear()
            self._connected.set()
            log.info("broker connected")
            await self._lost.wait()
