"""The files table under RLS, as the application role; the sweeper's cross-tenant lookup."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from tests.integration.conftest import new_tenant
from workers.files import repository as files
from workers.runtime import Runtime
from workers.tables import files as files_table


async def _pending(
    runtime: Runtime, tenant_id: uuid.UUID, user_id: uuid.UUID, at: datetime
) -> uuid.UUID:
    file_id = uuid.uuid4()
    async with runtime.db.transaction(tenant_id) as uow:
        await files.insert_file(
            uow,
            file_id=file_id,
            tenant_id=tenant_id,
            object_key=f"tenants/{tenant_id}/files/{file_id}",
            filename="a.png",
            content_type="image/png",
            size=10,
            created_by=user_id,
            now=at,
        )
    return file_id


async def test_files_of_one_tenant_are_invisible_and_untouchable_from_another(
    runtime: Runtime,
) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime)
    a_file = await _pending(runtime, a.tenant.id, a.user.id, datetime.now(UTC))
    async with runtime.db.transaction(b.tenant.id) as uow:
        assert await files.file_by_id(uow, a_file) is None
        assert await files.page(uow, limit=10, after=None) == []
        assert await files.mark_ready(uow, a_file, datetime.now(UTC)) is None
        assert await files.delete_file(uow, a_file) is None
        changed = await uow.connection.execute(
            update(files_table).where(files_table.c.id == a_file).values(filename="pwned")
        )
        assert changed.rowcount == 0
    async with runtime.db.transaction() as uow:  # no tenant: nothing at all
        count = await uow.connection.execute(select(func.count()).select_from(files_table))
        assert count.scalar() == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        async with runtime.db.transaction(b.tenant.id) as uow:
            await files.insert_file(
                uow,
                file_id=uuid.uuid4(),
                tenant_id=a.tenant.id,
                object_key=f"tenants/{a.tenant.id}/files/forged",
                filename="forged",
                content_type="image/png",
                size=1,
                created_by=a.user.id,
                now=datetime.now(UTC),
            )
    async with runtime.db.transaction(a.tenant.id) as uow:
        record = await files.file_by_id(uow, a_file)
    assert record is not None
    assert record.view.filename == "a.png"


async def test_the_sweeper_lookup_returns_only_expired_unfinished_pairs(runtime: Runtime) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime)
    now = datetime.now(UTC)
    # Younger than the shared platform's PENDING_UPLOAD_TTL, so its sweeper leaves them be.
    old, cutoff = now - timedelta(minutes=30), now - timedelta(minutes=20)
    expired_a = await _pending(runtime, a.tenant.id, a.user.id, old)
    expired_b = await _pending(runtime, b.tenant.id, b.user.id, old)
    fresh = await _pending(runtime, a.tenant.id, a.user.id, now)
    done = await _pending(runtime, b.tenant.id, b.user.id, old)
    async with runtime.db.transaction(b.tenant.id) as uow:
        assert await files.mark_ready(uow, done, now) is not None
    async with runtime.db.transaction() as uow:
        pairs = set(await files.expired_uploads(uow, cutoff, 10_000))
    assert (a.tenant.id, expired_a) in pairs
    assert (b.tenant.id, expired_b) in pairs
    assert not {fresh, done} & {file_id for _, file_id in pairs}
    # Deleting needs the tenant's own unit of work, and only an unfinished expired row goes.
    async with runtime.db.transaction(a.tenant.id) as uow:
        assert await files.delete_file(uow, expired_b, unfinished_before=cutoff) is None
        assert await files.delete_file(uow, fresh, unfinished_before=cutoff) is None
        assert await files.delete_file(uow, expired_a, unfinished_before=cutoff) is not None
    async with runtime.db.transaction(b.tenant.id) as uow:
        assert await files.delete_file(uow, done, unfinished_before=cutoff) is None
        assert await files.delete_file(uow, expired_b, unfinished_before=cutoff) is not None
