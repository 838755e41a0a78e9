"""The tenant's own record and its audit trail."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from contracts.envelope import FieldError
from contracts.models import Tenant
from contracts.users import (
    MAX_SETTINGS_BYTES,
    AuditPage,
    ListAuditRequest,
    UpdateTenantRequest,
)
from workers.context import Call
from workers.errors import InvalidRequest, NotFound
from workers.journal import audit, emit
from workers.pagination import decode_cursor, encode_cursor
from workers.uow import Database
from workers.users import repository as users


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class TenantService:
    def __init__(self, *, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def get(self, call: Call) -> Tenant:
        """The caller's tenant."""
        async with self._db.transaction(call.tenant_id) as uow:
            tenant = await users.get_tenant(uow, call.tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        return tenant

    async def update(self, request: UpdateTenantRequest, call: Call) -> Tenant:
        """Rename the tenant and merge-patch its settings."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            current = await users.lock_tenant(uow, caller.tid)
            if current is None:
                raise NotFound("tenant not found")
            changes: dict[str, Any] = {}
            if request.name is not None and request.name != current.name:
                changes["name"] = request.name
            if "settings" in request.model_fields_set:
                # RFC 7386 at the tenant's level: "settings": null removes them all (it
                # answered 200 and changed nothing).
                settings = (
                    merge_patch(current.settings, request.settings)
                    if request.settings is not None
                    else {}
                )
                if len(orjson.dumps(settings)) > MAX_SETTINGS_BYTES:
                    raise InvalidRequest(
                        "settings are too large",
                        details=[
                            FieldError(
                                field="settings", message=f"at most {MAX_SETTINGS_BYTES} bytes"
                            )
                        ],
                    )
                if settings != current.settings:
                    changes["settings"] = settings
            if not changes:
                return current
            tenant = await users.update_tenant(uow, caller.tid, self._clock(), **changes)
            assert tenant is not None
            audit(
                uow,
                call,
                tenant_id=caller.tid,
                action="tenant.updated",
                actor_id=caller.sub,
                target_type="tenant",
                target_id=caller.tid,
                data={"changes": sorted(changes)},
            )
            emit(
                uow,
                tenant_id=caller.tid,
                event_type="tenant.updated",
                data={"tenant": tenant.model_dump(mode="json"), "changes": sorted(changes)},
            )
        return tenant

    async def audit_trail(self, request: ListAuditRequest, call: Call) -> AuditPage:
        """One page of the audit trail, newest first."""
        before = decode_cursor(request.cursor) if request.cursor else None
        async with self._db.transaction(call.tenant_id) as uow:
            entries = await users.list_audit(
                uow, limit=request.limit + 1, before=before, action=request.action
            )
        page = entries[: request.limit]
        more = len(entries) > request.limit
        cursor = encode_cursor(page[-1].occurred_at, page[-1].id) if more else None
        return AuditPage(items=page, next_cursor=cursor)
