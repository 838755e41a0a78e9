"""``emit`` queues only the contract's event types, each with the ``data`` its model in
contracts.events describes (the AsyncAPI document is generated from those models)."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.events import EVENT_TYPES
from contracts.models import User
from workers.journal import emit

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TOKEN = "0123abcd.secret-token-value"


class Journal:
    """The unit of work's outbox queue, and nothing else of it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def journal_event(self, event: tuple[Any, ...]) -> None:
        self.events.append(event)


def _emit(journal: Journal, event_type: str, data: dict[str, Any]) -> None:
    emit(journal, tenant_id=uuid.uuid4(), event_type=event_type, data=data)  # type: ignore[arg-type]


def _user(status: str = "active") -> dict[str, Any]:
    """A user as the workers put it in an event: the view, dumped as JSON."""
    view = User.model_validate(
        {
            "id": uuid.uuid4(),
            "tenant_id": uuid.uuid4(),
            "email": "ada@example.test",
            "name": "Ada",
            "role": "member",
            "status": status,
            "email_verified": False,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    return view.model_dump(mode="json")


def _invited() -> dict[str, Any]:
    return {
        "user": _user("invited"),
        "token": TOKEN,
        "expires_at": (NOW + timedelta(days=7)).isoformat(),
        "invited_by": str(uuid.uuid4()),
    }


def test_event_types_are_spec_5s_list_then_tenant_updated() -> None:
    spec_5 = [
        "tenant.created",
        "user.created",
        "user.invited",
        "user.updated",
        "user.deleted",
        "user.role_changed",
        "role.created",
        "role.updated",
        "role.deleted",
        "session.created",
        "session.revoked",
        "auth.login_succeeded",
        "auth.login_failed",
        "auth.password_changed",
        "auth.password_reset_requested",
        "auth.email_verification_requested",
        "file.uploaded",
        "file.deleted",
    ]
    assert (*spec_5, "tenant.updated") == EVENT_TYPES


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("user.invited", _invited()),
        ("user.updated", {"user": _user(), "changes": ["name", "status"]}),
        ("user.updated", {"user": _user(), "changes": ["status", "email_verified"]}),
        ("user.role_changed", {"user_id": str(uuid.uuid4()), "from": "member", "to": "admin"}),
        ("auth.login_failed", {"user_id": None, "ip": None}),
        (
            "session.revoked",
            {"session_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "reason": "logout"},
        ),
    ],
)
def test_emit_queues_the_data_as_given(event_type: str, data: dict[str, Any]) -> None:
    journal = Journal()
    _emit(journal, event_type, data)
    [(event_id, _, queued_type, body)] = journal.events
    assert queued_type == body["type"] == event_type
    assert body["id"] == str(event_id)
    assert body["data"] is data


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("user.invited", {k: v for k, v in _invited().items() if k != "invited_by"}, "invited_by"),
        ("user.invited", {**_invited(), "inviter_email": "x@example.test"}, "inviter_email"),
        ("user.invited", {**_invited(), "invited_by": "someone"}, "invited_by"),
        ("user.created", {"user": {**_user(), "status": "asleep"}}, "user.status"),
        ("user.updated", {"user": _user(), "changes": ["email"]}, "changes"),
        (
            "session.revoked",
            {"session_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "reason": "bored"},
            "reason",
        ),
        ("tenant.updated", {}, "tenant"),
    ],
)
def test_emit_refuses_data_its_model_does_not_describe(
    event_type: str, data: dict[str, Any], field: str
) -> None:
    """A mismatch is our bug, not the caller's: a plain ValueError (the dispatcher answers
    a ValidationError as a 400) naming the field, and nothing is queued."""
    journal = Journal()
    with pytest.raises(
        ValueError, match=rf"^{re.escape(event_type)} data .*\b{re.escape(field)}\b"
    ) as refused:
        _emit(journal, event_type, data)
    assert not isinstance(refused.value, ValidationError)
    assert refused.value.__suppress_context__
    assert journal.events == []


def test_a_refusal_does_not_repeat_the_values() -> None:
    """The message ends up in the worker's log; the data may hold a single-use token."""
    journal = Journal()
    with pytest.raises(ValueError, match="invited_by") as refused:
        _emit(journal, "user.invited", {**_invited(), "invited_by": TOKEN})
    assert TOKEN not in str(refused.value)


def test_only_the_contracts_event_types_can_be_emitted() -> None:
    """Every event a consumer can see is in contracts.events, hence in the AsyncAPI
    document: emitting any other type fails before anything is queued."""
    journal = Journal()
    with pytest.raises(ValueError, match=r"user\.teleported"):
        _emit(journal, "user.teleported", {})
    assert journal.events == []
