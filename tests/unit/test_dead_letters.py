"""What a dead letter keeps of its message: nothing secret (workers/dead_letters.py)."""

from typing import Any

import orjson
from pydantic import BaseModel

from contracts.catalog import ACTIONS
from workers.dead_letters import REDACTED, SECRET_FIELDS, redact, redacted_body


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Every field name of ``model`` and of the models nested in it."""
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(field.alias or name)
        for kind in _types(field.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= _field_names(kind, seen)
    return names


def _types(annotation: Any) -> list[Any]:
    found = [annotation]
    for argument in getattr(annotation, "__args__", ()) or ():
        found += _types(argument)
    return found


def test_every_password_or_token_field_of_a_request_is_redacted() -> None:
    seen: set[type[BaseModel]] = set()
    names = set().union(*(_field_names(action.request, seen) for action in ACTIONS.values()))
    secret_looking = {n for n in names if "password" in n or "token" in n or "secret" in n}
    assert secret_looking, "the walk found no password field at all"
    assert secret_looking <= SECRET_FIELDS, secret_looking - SECRET_FIELDS


def test_secrets_are_replaced_at_any_depth_and_the_rest_is_kept() -> None:
    body = {
        "slug": "acme",
        "owner": {"email": "o@example.com", "password": "hunter2 hunter2", "name": "O"},
        "items": [{"token": "abc"}, {"refresh_token": None}],
        "refresh_token": "eyJ...",
    }
    assert redact(body) == {
        "slug": "acme",
        "owner": {"email": "o@example.com", "password": REDACTED, "name": "O"},
        "items": [{"token": REDACTED}, {"refresh_token": None}],
        "refresh_token": REDACTED,
    }
    assert orjson.loads(redacted_body(orjson.dumps(body))) == redact(body)


def test_a_body_that_is_not_json_is_dropped_whole() -> None:
    # It could hold anything, a password included, in a shape no redaction can follow.
    assert redacted_body(b'{"password": "hunter2 hunter2"') == b""
    assert redacted_body(b"password=hunter2") == b""
    assert redacted_body(b"") == b""
