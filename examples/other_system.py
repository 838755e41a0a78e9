"""Another system on the broker: list users over AMQP, then follow user.created events.

    AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ ACCESS_TOKEN=... python examples/other_system.py

It needs nothing of this project but aio-pika: the request is JSON with the same fields
as the HTTP API, the token travels in the ``authorization`` header, and the reply comes
back on RabbitMQ's direct reply-to. Events are JSON envelopes on the ``idp.events`` topic
exchange; delivery is at least once, so a consumer remembers the ``id``s it has seen.
It follows them for ``FOLLOW_SECONDS`` (10 by default), then exits.
"""

import asyncio
import json
import os
import sys
import uuid

import aio_pika


async def list_users(channel: aio_pika.abc.AbstractChannel, token: str) -> dict[str, object]:
    """One request/reply: ``users.list`` with a bearer token, 10 s budget."""
    replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
    answer: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    correlation_id = uuid.uuid4().hex

    async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if message.correlation_id == correlation_id and not answer.done():
            answer.set_result(json.loads(message.body))

    tag = await replies.consume(on_reply, no_ack=True)
    rpc = await channel.get_exchange("idp.rpc")
    await rpc.publish(
        aio_pika.Message(
            json.dumps({"limit": 10}).encode(),
            content_type="application/json",
            correlation_id=correlation_id,
            message_id=uuid.uuid4().hex,
            reply_to="amq.rabbitmq.reply-to",
            type="users.list",
            expiration=10,
            headers={"authorization": f"Bearer {token}"},
        ),
        routing_key="users.list",
        mandatory=True,
    )
    try:
        return await asyncio.wait_for(answer, 10)
    finally:
        await replies.cancel(tag)


async def subscribe(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """A private queue receiving every ``user.created`` event from now on."""
    events = await channel.get_exchange("idp.events")
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(events, routing_key="user.created")
    return queue


async def follow_events(queue: aio_pika.abc.AbstractQueue, seconds: float) -> None:
    """Print each event once, for ``seconds``."""
    seen: set[str] = set()
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        event = json.loads(message.body)
        if event["id"] in seen:
            continue  # a redelivery: at least once means maybe twice
        seen.add(event["id"])
        print(
            json.dumps({"event": event["type"], "email": event["data"]["user"]["email"]}),
            flush=True,
        )


async def main() -> None:
    token = os.environ["ACCESS_TOKEN"]
    seconds = float(os.environ.get("FOLLOW_SECONDS", "10"))
    connection = await aio_pika.connect(os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1/"))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await subscribe(channel)
        reply = await list_users(channel, token)
        print(json.dumps({"users.list": reply}), flush=True)
        if not reply.get("ok"):
            sys.exit(1)
        await follow_events(queue, seconds)


if __name__ == "__main__":
    asyncio.run(main())
