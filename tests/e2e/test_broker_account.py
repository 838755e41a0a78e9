"""The broker account docs/messages.md gives other systems: enough to call and to follow
events, and nothing that reads another's requests or answers for the workers (SPEC 5: a
publisher with broker access can do nothing an anonymous HTTP client cannot)."""

import asyncio
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused

from contracts.actions import EXCHANGE_EVENTS, EXCHANGE_RPC, family_queue
from idp.settings import Settings
from tests.support.env import vhost_of
from tests.support.platform import Platform


def _permissions(user: str) -> tuple[str, str, str]:
    """What docs/messages.md ("A broker account for another system") tells operators to
    set for ``user``: configure, write, read."""
    own = rf"amq\.gen-.*|ext\.{re.escape(user)}\..*"
    return rf"^({own})$", rf"^(idp\.rpc|{own})$", rf"^(idp\.events|{own})$"


T = TypeVar("T")


def _ctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("this test creates a broker user with rabbitmqctl, which is not on PATH")
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def system_url(settings: Settings, platform: Platform) -> Iterator[str]:
    """The URL of a new broker user with the documented permissions on the tests' vhost."""
    user, password = f"idp-test-system-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    _ctl("add_user", "--", user, password)  # a password may begin with "-"
    try:
        _ctl("set_permissions", "-p", vhost_of(settings.amqp_url), user, *_permissions(user))
        parts = urlsplit(settings.amqp_url)
        netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5672}"
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        _ctl("delete_user", user)


async def _on_channel(url: str, act: Callable[[AbstractChannel], Awaitable[T]]) -> T:
    connection = await aio_pika.connect(url)
    async with connection:
        return await act(await connection.channel())


async def test_the_account_calls_with_direct_reply_to_and_follows_events(
    system_url: str,
) -> None:
    async def call_and_follow(channel: AbstractChannel) -> tuple[dict[str, Any], str]:
        events = await channel.declare_queue(exclusive=True)
        await events.bind(EXCHANGE_EVENTS, "auth.#")
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)

        async def on_reply(message: AbstractIncomingMessage) -> None:
            answer.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        rpc = await channel.get_exchange(EXCHANGE_RPC, ensure=False)
        login = {"tenant": "no-such-tenant", "email": "a@example.com", "password": "whatever1"}
        await rpc.publish(
            aio_pika.Message(
                orjson.dumps(login),
                correlation_id="1",
                reply_to="amq.rabbitmq.reply-to",
                message_id=uuid.uuid4().hex,
            ),
            routing_key="auth.login",
        )
        reply: dict[str, Any] = orjson.loads(await asyncio.wait_for(answer, 10))
        return reply, events.name

    reply, events_queue = await _on_channel(system_url, call_and_follow)
    assert reply["ok"] is False
    assert (reply["error"]["status"], reply["error"]["code"]) == (401, "invalid_credentials")
    assert events_queue.startswith("amq.gen-")


async def _bind_to_requests(channel: AbstractChannel) -> object:
    queue = await channel.declare_queue(exclusive=True)
    return await queue.bind(EXCHANGE_RPC, "auth.login")


async def _consume_a_family_queue(channel: AbstractChannel) -> object:
    queue = await channel.get_queue(family_queue("auth"), ensure=False)

    async def take(message: AbstractIncomingMessage) -> None:
        await message.reject(requeue=True)

    return await queue.consume(take)


async def _answer_for_the_workers(channel: AbstractChannel) -> object:
    await channel.default_exchange.publish(
        aio_pika.Message(b'{"ok": true, "data": {}}', correlation_id="1"),
        routing_key="amq.rabbitmq.reply-to.forged",
    )
    return await channel.declare_queue(exclusive=True)  # a round trip: the refusal arrives


@pytest.mark.parametrize(
    "attack",
    [_bind_to_requests, _consume_a_family_queue, _answer_for_the_workers],
    ids=["read others' requests", "take requests from a family queue", "forge replies"],
)
async def test_the_account_cannot_read_requests_or_answer_for_the_workers(
    system_url: str, attack: Callable[[AbstractChannel], Awaitable[object]]
) -> None:
    with pytest.raises(ChannelAccessRefused):
        await _on_channel(system_url, attack)


async def test_the_account_takes_replies_on_its_own_named_queue_only(system_url: str) -> None:
    user = urlsplit(system_url).username or ""

    async def call(channel: AbstractChannel) -> list[dict[str, Any]]:
        queue = await channel.declare_queue(f"ext.{user}.replies", auto_delete=True)
        rpc = await channel.get_exchange(EXCHANGE_RPC, ensure=False)
        for user_id in (user, None):  # without user_id, nobody vouches the queue is its
            await rpc.publish(
                aio_pika.Message(b"{}", correlation_id="1", reply_to=queue.name, user_id=user_id),
                routing_key="auth.me",
            )
        replies: list[dict[str, Any]] = []
        until = asyncio.get_running_loop().time() + 1.5
        while asyncio.get_running_loop().time() < until:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                replies.append(orjson.loads(message.body))
        return replies

    replies = await _on_channel(system_url, call)
    assert [reply["error"]["status"] for reply in replies] == [401]
