"""The AsyncAPI 3.0 document of the message interface, generated from ``contracts/``."""

from typing import Any, Literal

from pydantic import BaseModel, create_model
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from contracts.actions import DEADLINE_HEADER, EXCHANGE_EVENTS, EXCHANGE_RPC, family_queue
from contracts.catalog import ACTIONS
from contracts.envelope import ReplyError, ReplyOk
from contracts.events import EVENT_DATA, Event
from idp.security.client_headers import CLIENT_IP_HEADER, SIGNATURE_HEADER, USER_AGENT_HEADER

REF = "#/components/schemas/{model}"


def _envelope(event_type: str, data: type[BaseModel]) -> type[BaseModel]:
    """``Event`` as one type sends it: ``type`` is that type, ``data`` its model."""
    name = data.__name__.removesuffix("Data") + "Event"
    this_type: Any = Literal[event_type]
    return create_model(
        name,
        __base__=Event,
        __doc__=f"The event {event_type}.",
        type=(this_type, ...),
        data=(data, ...),
    )


# One envelope model per event type, in EVENT_DATA's order.
_ENVELOPES: dict[str, type[BaseModel]] = {t: _envelope(t, d) for t, d in EVENT_DATA.items()}


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (Event, "serialization"),
        (ReplyOk, "serialization"),
        (ReplyError, "serialization"),
    ]
    wanted.extend((envelope, "serialization") for envelope in _ENVELOPES.values())
    for action in ACTIONS.values():
        wanted.append((action.request, "validation"))
        if action.response is not None:
            wanted.append((action.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return refs, top.get("$defs", {})


def build_asyncapi(amqp_host: str = "localhost:5672") -> dict[str, Any]:
    refs, schemas = _schemas()
    channels: dict[str, Any] = {
        "reply": {
            "address": None,
            "description": "The caller's reply_to queue (RabbitMQ direct reply-to works).",
            "messages": {
                "ok": {"payload": refs[(ReplyOk, "serialization")]},
                "error": {"payload": refs[(ReplyError, "serialization")]},
            },
        }
    }
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    headers = {
        "type": "object",
        "properties": {
            "authorization": {"type": "string", "description": "Bearer <access token>"},
            "x-request-id": {"type": "string"},
            "traceparent": {"type": "string", "description": "W3C trace context"},
            DEADLINE_HEADER: {
                "type": "integer",
                "description": "The caller's deadline, ms since the Unix epoch: a request "
                "that reaches a worker later is answered 504 and not applied.",
            },
            CLIENT_IP_HEADER: {
                "type": "string",
                "description": "The client's address; believed only with the edge's "
                f"{SIGNATURE_HEADER} (other publishers are counted by their AMQP user_id).",
            },
            USER_AGENT_HEADER: {
                "type": "string",
                "description": f"The client's user agent; believed only with {SIGNATURE_HEADER}.",
            },
        },
    }
    for key, action in sorted(ACTIONS.items()):
        name = key.replace(".", "_")
        messages[f"{name}_request"] = {
            "name": key,
            "title": action.summary or key,
            "contentType": "application/json",
            "headers": headers,
            "correlationId": {"location": "$message.header#/correlation_id"},
            "payload": refs[(action.request, "validation")],
            "x-permission": action.permission,
            "x-authenticated": action.authenticated,
            "x-response": refs[(action.response, "serialization")] if action.response else None,
        }
        channels[name] = {
            "address": key,
            "description": f"Routed by {EXCHANGE_RPC} to queue {family_queue(action.family)}.",
            "messages": {"request": {"$ref": f"#/components/messages/{name}_request"}},
            "bindings": {
                # The AMQP binding schema allows "queue" only with "is": "queue"; the
                # queue a routing key lands on is named in the description and x-queue.
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": EXCHANGE_RPC, "type": "direct", "durable": True},
                }
            },
            "x-queue": family_queue(action.family),
        }
        operations[name] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": action.summary or key,
            "reply": {"channel": {"$ref": "#/channels/reply"}},
        }
    for event_type, envelope in _ENVELOPES.items():
        name = "event_" + event_type.replace(".", "_")
        messages[name] = {
            "name": event_type,
            "title": event_type,
            "contentType": "application/json",
            "payload": refs[(envelope, "serialization")],
        }
        channels[name] = {
            "address": event_type,
            "messages": {"event": {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": EXCHANGE_EVENTS, "type": "topic", "durable": True},
                }
            },
        }
        operations[name] = {"action": "send", "channel": {"$ref": f"#/channels/{name}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "idp message interface",
            "version": "1",
            "description": "Requests on idp.rpc (same contracts and tokens as HTTP); "
            "domain events on idp.events (at least once; dedupe by id).",
        },
        "servers": {"broker": {"host": amqp_host, "protocol": "amqp"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
