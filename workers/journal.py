"""Audit entries and outbox events, written in the transaction of the change (SPEC 5).

Both are queued on the unit of work and written in one statement just before it commits
(``UnitOfWork.flush_journal``): a change with an audit entry and two events costs one
round trip for all three, and none of them exists unless the change commits.
"""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from contracts.events import EVENT_DATA
from workers.context import Call
from workers.uow import UnitOfWork


def timestamp(at: datetime) -> str:
    """An instant as events carry it: RFC 3339 in UTC with ``Z``, as pydantic writes the
    contract models' datetimes, so ``occurred_at`` and every time in ``data`` read alike."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def audit(
    uow: UnitOfWork,
    call: Call,
    *,
    tenant_id: UUID,
    action: str,
    actor_id: UUID | None,
    target_type: str | None = None,
    target_id: UUID | str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Queue an audit entry; it is written with the transaction's commit."""
    uow.journal_audit(
        (
            uuid.uuid4(),
            tenant_id,
            actor_id,
            action,
            target_type,
            str(target_id) if target_id is not None else None,
            data or {},
            call.request_id,
            call.client.ip,
        )
    )


def emit(uow: UnitOfWork, *, tenant_id: UUID, event_type: str, data: dict[str, Any]) -> None:
    """Queue a domain event; it is written with the transaction's commit and the relay
    publishes it to ``idp.events`` after that. Only the contract's types go out, each with
    the ``data`` its model in ``contracts.events.EVENT_DATA`` describes, so the AsyncAPI
    document describes every event a consumer can see. ``data`` goes out as given."""
    model = EVENT_DATA.get(event_type)
    if model is None:
        raise ValueError(f"{event_type!r} is not in contracts.events.EVENT_TYPES")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        # A bug of ours, not the caller's: not a ValidationError, which the dispatcher
        # answers as a 400, and without the values, which may be tokens (they get logged).
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise ValueError(f"{event_type} data does not match {model.__name__}: {problems}") from None
    event_id = uuid.uuid4()
    body = {
        "id": str(event_id),
        "type": event_type,
        "occurred_at": timestamp(datetime.now(UTC)),
        "tenant_id": str(tenant_id),
        "data": data,
    }
    uow.journal_event((event_id, tenant_id, event_type, body))
