"""Audit entries and outbox events, written in the transaction of the change (SPEC 5)."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert

from workers.context import Call
from workers.tables import audit_log, outbox
from workers.uow import UnitOfWork


async def audit(
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
    await uow.connection.execute(
        insert(audit_log).values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            data=data or {},
            request_id=call.request_id,
            ip=call.client.ip,
        )
    )


async def emit(uow: UnitOfWork, *, tenant_id: UUID, event_type: str, data: dict[str, Any]) -> None:
    """Queue a domain event; the relay publishes it to ``idp.events`` after commit."""
    event_id = uuid.uuid4()
    await uow.connection.execute(
        insert(outbox).values(
            id=event_id,
            tenant_id=tenant_id,
            event_type=event_type,
            body={
                "id": str(event_id),
                "type": event_type,
                "occurred_at": datetime.now(UTC).isoformat(),
                "tenant_id": str(tenant_id),
                "data": data,
            },
        )
    )
