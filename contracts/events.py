"""Domain events published on ``idp.events`` (SPEC 5): the envelope and the types."""

from datetime import datetime
from typing import Any, Final
from uuid import UUID

from contracts.base import View

EVENT_TYPES: Final[tuple[str, ...]] = (
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
    # Beyond SPEC 5's list: a tenant renamed or its settings changed (docs/rbac.md).
    "tenant.updated",
)


class Event(View):
    """Every event has this envelope; consumers dedupe by ``id`` (delivery is at least once)."""

    id: UUID
    type: str
    occurred_at: datetime
    tenant_id: UUID
    data: dict[str, Any]
