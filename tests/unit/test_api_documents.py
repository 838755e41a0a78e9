"""The AsyncAPI and OpenAPI documents are derived from contracts/ and stay complete."""

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

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


def test_asyncapi_lists_every_routing_key_and_event_type() -> None:
    document = build_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert set(ACTIONS) <= addresses
    assert set(EVENT_TYPES) <= addresses
    for ref in _refs(document):
        assert _resolves(document, ref), ref


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


def test_only_the_contracts_event_types_can_be_emitted() -> None:
    """Every event a consumer can see is in contracts.events, hence in the AsyncAPI
    document: emitting any other type fails before anything is queued."""
    from uuid import uuid4

    from workers.journal import emit

    class Journal:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def journal_event(self, event: Any) -> None:
            self.events.append(event)

    journal = Journal()
    emit(journal, tenant_id=uuid4(), event_type="tenant.updated", data={})  # type: ignore[arg-type]
    assert len(journal.events) == 1
    with pytest.raises(ValueError, match=r"user\.teleported"):
        emit(journal, tenant_id=uuid4(), event_type="user.teleported", data={})  # type: ignore[arg-type]
    assert len(journal.events) == 1
