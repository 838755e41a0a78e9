"""Resource views returned by several families."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from contracts.base import View

UserStatus = Literal["active", "disabled", "invited"]


class User(View):
    id: UUID
    tenant_id: UUID
    email: str
    name: str
    role: str
    status: UserStatus
    email_verified: bool
    created_at: datetime
    updated_at: datetime


class Tenant(View):
    id: UUID
    slug: str
    name: str
    settings: dict[str, Any]
    created_at: datetime
