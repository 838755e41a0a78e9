"""The OpenAPI 3.1 document, generated from the routes and the contract models (never by hand)."""

import copy
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from edge.origins import UNSAFE_METHODS
from edge.routes.auth import REFRESH_FROM_COOKIE, SESSION_RESULTS
from edge.routes.model import HttpRoute

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    "400": "Malformed JSON or failed validation (`invalid_request`, with `details`)",
    "401": "Missing, invalid, expired or revoked token, or bad credentials",
    "403": "Lacking the permission, or the CSRF check failed",
    "404": "Not found, or belongs to another tenant",
    "409": "Uniqueness or state conflict",
    "413": "Body over the limit",
    "431": "Request headers too large",
    "429": "Rate limited; see `Retry-After`",
    "503": "Broker or no worker available",
    "504": "No reply within the request budget",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}
# The request headers of SPEC 4 that change what an operation does, by reference.
HEADER_PARAMETERS: dict[str, dict[str, Any]] = {
    "XRequestId": {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "Echoed in the response header, the error body and every log line, "
        "and carried across the broker (letters, digits and `-_.:/+=`, up to 128; "
        "otherwise one is made).",
        "schema": {"type": "string", "maxLength": 128},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "The request's AMQP `message_id`: a retry with the same key is not "
        "applied twice and gets the first attempt's answer (docs/messages.md). 1 to 200 "
        "bytes of printable UTF-8 (so at most 200 characters, fewer when they are not ASCII).",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    "XAuthMode": {
        "name": "X-Auth-Mode",
        "in": "header",
        "required": False,
        "description": "`bearer`: the tokens come in the body and no cookie is set; "
        "otherwise (cookie mode) they come only as HttpOnly cookies (SPEC 4.1).",
        "schema": {"enum": ["bearer", "cookie"]},
    },
}
_RESPONSE_HEADERS = {
    "X-Request-ID": {
        "description": "The request's id (the client's, if sane)",
        "schema": {"type": "string"},
    }
}
_PATH_PARAM = re.compile(r"{(\w+)}")
_READINESS: dict[str, Any] = {
    "type": "object",
    "required": ["status", "broker", "families"],
    "properties": {
        "status": {"enum": ["ready", "unavailable"]},
        "broker": {"type": "boolean"},
        "families": {"type": "object", "additionalProperties": {"enum": ["ok", "unavailable"]}},
    },
}


def _operational(summary: str, media: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A GET the edge answers itself (SPEC 4.3's public operational routes): no token."""
    return {
        "summary": summary,
        "tags": ["operations"],
        "security": [],
        "responses": {"200": {"description": "OK", "content": {media: {"schema": schema}}}},
    }


def _operational_paths() -> dict[str, dict[str, Any]]:
    readyz = _operational(
        "Ready: the broker is connected and a worker of each family answers a ping",
        "application/json",
        _READINESS,
    )
    not_ready = copy.deepcopy(_READINESS)
    not_ready["properties"]["error"] = ERROR_SCHEMA["properties"]["error"]
    not_ready["required"] = ["error", *_READINESS["required"]]
    readyz["responses"]["503"] = {
        "description": "Not ready: the error shape, and which part is missing",
        "content": {"application/json": {"schema": not_ready}},
    }
    return {
        "/healthz": {
            "get": _operational(
                "The process is up",
                "application/json",
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "ok"}},
                },
            )
        },
        "/readyz": {"get": readyz},
        "/metrics": {"get": _operational("Prometheus metrics", "text/plain", {"type": "string"})},
        "/openapi.json": {
            "get": _operational("This document", "application/json", {"type": "object"})
        },
        "/docs": {"get": _operational("This document, rendered", "text/html", {"type": "string"})},
    }


def _schemas(routes: tuple[HttpRoute, ...]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for route in routes:
        wanted.append((route.action.request, "validation"))
        if route.action.response is not None:
            wanted.append((route.action.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return refs, top.get("$defs", {})


def _name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _operation(route: HttpRoute, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    action = route.action
    request_name = _name(refs[(action.request, "validation")])
    request_schema = defs[request_name]
    properties: dict[str, Any] = request_schema.get("properties", {})
    path_params = _PATH_PARAM.findall(route.path)
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": properties.get(name, {"type": "string"}),
        }
        for name in path_params
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": properties.get(name, {"type": "string"}),
        }
        for name in route.query
    ]
    parameters.append(_header_ref("XRequestId"))
    if route.method in UNSAFE_METHODS:
        parameters.append(_header_ref("IdempotencyKey"))
    if action.key in SESSION_RESULTS:
        parameters.append(_header_ref("XAuthMode"))
    operation: dict[str, Any] = {
        "operationId": action.key.replace(".", "_"),
        "summary": action.summary or action.key,
        "tags": list(route.tags) or [action.family],
        "x-routing-key": action.key,
        "parameters": parameters,
    }
    if action.permission:
        operation["x-permission"] = action.permission
    excluded = set(path_params) | set(route.query)
    body_fields = [name for name in properties if name not in excluded]
    if route.method in {"POST", "PUT", "PATCH"} and body_fields:
        if excluded:
            body_name = f"{request_name}Body"
            body = copy.deepcopy(request_schema)
            body["properties"] = {k: v for k, v in properties.items() if k not in excluded}
            body["required"] = [r for r in body.get("required", []) if r not in excluded]
            defs[body_name] = body
            request_name = body_name
        operation["requestBody"] = {
            "required": bool(defs[request_name].get("required")),
            "content": {"application/json": {"schema": {"$ref": REF.format(model=request_name)}}},
        }
        if action.key in REFRESH_FROM_COOKIE:
            operation["requestBody"]["description"] = (
                "Bearer mode sends `refresh_token`; cookie mode may send no body, the "
                "token then comes from the refresh cookie."
            )
    success: dict[str, Any] = {"description": "Success", "headers": _RESPONSE_HEADERS}
    if action.response is not None and route.status != 204:
        success["content"] = {
            "application/json": {"schema": refs[(action.response, "serialization")]}
        }
    responses: dict[str, Any] = {str(route.status): success}
    for status, description in ERROR_STATUSES.items():
        responses[status] = {
            "description": description,
            "headers": _RESPONSE_HEADERS,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    operation["responses"] = responses
    operation["security"] = [{"bearerAuth": []}, {"cookieAuth": []}] if action.authenticated else []
    return operation


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def build_openapi(routes: tuple[HttpRoute, ...], access_cookie: str) -> dict[str, Any]:
    refs, defs = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, defs)
    paths.update(_operational_paths())
    defs["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "idp",
            "version": "1",
            "description": "Multi-tenant identity platform. Every operation is also a "
            "request on the broker: exchange `idp.rpc`, routing key `x-routing-key`.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "parameters": HEADER_PARAMETERS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": access_cookie},
            },
        },
    }
