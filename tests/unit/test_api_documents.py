"""The AsyncAPI and OpenAPI documents are derived from contracts/ and stay complete."""

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from contracts.catalog import ACTIONS
from contracts.events import EVENT_TYPES
from edge.openapi import build_openapi
from edge.routes import ROUTES
from idp.asyncapi import build_asyncapi


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolves(document: dict[str, Any], ref: str) -> bool:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _at(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict), ref
    return node


def test_asyncapi_lists_every_routing_key_and_event_type() -> None:
    document = build_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert set(ACTIONS) <= addresses
    assert set(EVENT_TYPES) <= addresses
    for ref in _refs(document):
        assert _resolves(document, ref), ref


def test_asyncapi_describes_each_events_data() -> None:
    """Each event type is its own message: the envelope with ``type`` fixed and ``data``
    the type's model from contracts.events, not a bare object."""
    document = build_asyncapi()
    data: dict[str, dict[str, Any]] = {}
    for event_type in EVENT_TYPES:
        channel = document["channels"]["event_" + event_type.replace(".", "_")]
        assert channel["address"] == event_type
        message = _at(document, channel["messages"]["event"]["$ref"])
        payload = _at(document, message["payload"]["$ref"])
        assert payload["properties"]["type"]["const"] == event_type
        assert set(payload["required"]) == {"id", "type", "occurred_at", "tenant_id", "data"}
        data[event_type] = _at(document, payload["properties"]["data"]["$ref"])
        assert data[event_type]["properties"], event_type
        assert "additionalProperties" not in data[event_type], event_type

    invited = data["user.invited"]
    assert set(invited["required"]) == {"user", "token", "expires_at", "invited_by"}
    assert invited["properties"]["user"] == {"$ref": "#/components/schemas/User"}
    assert set(data["user.role_changed"]["required"]) == {"user_id", "from", "to"}
    assert set(data["user.updated"]["properties"]) == {"user", "changes"}
    assert data["user.updated"]["required"] == ["user", "changes"]
    reasons = data["session.revoked"]["properties"]["reason"]["enum"]
    assert {"logout", "refresh_token_reused", "user_deleted"} <= set(reasons)
    assert data["file.uploaded"]["properties"]["file"] == {"$ref": "#/components/schemas/File"}


def test_asyncapi_is_valid_against_the_official_schema() -> None:
    """The AsyncAPI Initiative's own JSON Schema of 3.0.0, bindings included (tests/data):
    it refused an AMQP channel binding naming a queue with ``"is": "routingKey"``."""
    schema_file = Path(__file__).parent.parent / "data" / "asyncapi-3.0.0.schema.json.gz"
    schema = json.loads(gzip.decompress(schema_file.read_bytes()))
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(build_asyncapi()))
    assert not errors, [e.message[:200] for e in errors[:3]]


def test_openapi_references_all_resolve() -> None:
    document = build_openapi(ROUTES, "__Host-idp_access")
    for ref in _refs(document):
        assert _resolves(document, ref), ref
    operations = [op for methods in document["paths"].values() for op in methods.values()]
    routed = [op for op in operations if "x-routing-key" in op]
    assert len(routed) == len(ROUTES)
    # The rest are the edge's own public GETs (SPEC 4.3): health, readiness, metrics, docs.
    assert len(operations) - len(routed) == 5


def test_openapi_is_a_valid_document_naming_the_headers_of_spec_4() -> None:
    from openapi_spec_validator import validate

    document = build_openapi(ROUTES, "__Host-idp_access")
    validate(document)
    operations = {
        op["x-routing-key"]: op
        for methods in document["paths"].values()
        for op in methods.values()
        if "x-routing-key" in op
    }

    def headers(key: str) -> set[str]:
        refs = [p["$ref"] for p in operations[key]["parameters"] if "$ref" in p]
        return {document["components"]["parameters"][r.rsplit("/", 1)[-1]]["name"] for r in refs}

    # X-Auth-Mode where tokens are handed out (SPEC 4.1), and only there.
    for key in ("auth.login", "auth.signup", "auth.refresh"):
        assert headers(key) == {"X-Request-ID", "Idempotency-Key", "X-Auth-Mode"}, key
    assert headers("users.create") == {"X-Request-ID", "Idempotency-Key"}
    assert headers("users.list") == {"X-Request-ID"}
    # A cookie-mode refresh sends no body.
    assert operations["auth.refresh"]["requestBody"]["required"] is False
    assert operations["auth.login"]["requestBody"]["required"] is True


def test_idp_asyncapi_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.json"
    done = subprocess.run(
        [sys.executable, "-m", "idp", "asyncapi", "--output", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["asyncapi"] == "3.0.0"


# pydantic's own names for bounds, which it writes into a JSON Schema as they are when it
# cannot translate them: no validator knows them, so the bound would silently vanish.
_NOT_JSON_SCHEMA = frozenset({"ge", "le", "gt", "lt", "min_length", "max_length", "multiple_of"})


def _schemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "type" in item:
                found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def test_the_documents_state_bounds_in_json_schema_keywords() -> None:
    """A client validating by the documents must see the bounds the server applies:
    ``limit`` is 1 to 200 (``minimum``/``maximum``), not pydantic's ``ge``/``le``."""
    for document in (build_openapi(ROUTES, "__Host-idp_access"), build_asyncapi()):
        bad = [s for s in _schemas(document) if _NOT_JSON_SCHEMA & set(s)]
        assert bad == [], bad[:3]
    users = build_openapi(ROUTES, "__Host-idp_access")["paths"]["/v1/users"]["get"]
    (limit,) = [p for p in users["parameters"] if p.get("name") == "limit"]
    validator = jsonschema.Draft202012Validator(limit["schema"])
    assert [validator.is_valid(v) for v in (0, 1, 200, 201)] == [False, True, True, False]
