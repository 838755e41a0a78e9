"""SQL for files. Runs inside a unit of work; RLS scopes every statement to one tenant."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, or_, select, text, tuple_, update

from contracts.files import File
from workers.tables import files
from workers.uow import UnitOfWork

_EXPIRED = text("SELECT tenant_id, id FROM idp_files_expired_uploads(:cutoff, :limit)")
_LOCK_QUOTA = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


@dataclass(frozen=True, slots=True)
class FileRecord:
    view: File
    object_key: str


@dataclass(frozen=True, slots=True)
class Usage:
    count: int
    bytes: int


def _record(row: Any) -> FileRecord:
    view = File(
        id=row.id,
        tenant_id=row.tenant_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        uploaded_at=row.uploaded_at,
    )
    return FileRecord(view, row.object_key)


async def lock_quota(uow: UnitOfWork, tenant_id: UUID) -> None:
    """Serialise quota checks of one tenant until the transaction ends."""
    await uow.connection.execute(_LOCK_QUOTA, {"key": f"idp.files.quota:{tenant_id}"})


async def usage(uow: UnitOfWork, writable_since: datetime) -> Usage:
    """Files that hold or may still receive bytes: ready and pending ones, and rejected
    (or deleted while pending) ones created since ``writable_since``, whose upload URL
    can still write their declared size to the bucket."""
    row = (
        await uow.connection.execute(
            select(func.count(), func.coalesce(func.sum(files.c.size), 0))
            .select_from(files)
            .where(or_(files.c.status != "rejected", files.c.created_at > writable_since))
        )
    ).one()
    return Usage(count=int(row[0]), bytes=int(row[1]))


async def insert_file(
    uow: UnitOfWork,
    *,
    file_id: UUID,
    tenant_id: UUID,
    object_key: str,
    filename: str,
    content_type: str,
    size: int,
    created_by: UUID,
    now: datetime,
) -> FileRecord:
    row = (
        await uow.connection.execute(
            insert(files)
            .values(
                id=file_id,
                tenant_id=tenant_id,
                object_key=object_key,
                filename=filename,
                content_type=content_type,
                size=size,
                status="pending",
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            .returning(files)
        )
    ).one()
    return _record(row)


# A rejected upload is deleted as far as the API is concerned (SPEC 4.3: "400 and
# deletes it"); its row stays only for the sweeper (docs/files.md).
_VISIBLE = files.c.status != "rejected"


async def file_by_id(uow: UnitOfWork, file_id: UUID, *, lock: bool = False) -> FileRecord | None:
    """The file, unless there is none or its upload was rejected; with ``lock``, its row
    locked until the transaction ends (``FOR NO KEY UPDATE``: completes and deletes of one
    file take turns)."""
    statement = select(files).where(files.c.id == file_id, _VISIBLE)
    if lock:
        statement = statement.with_for_update(key_share=True)
    row = (await uow.connection.execute(statement)).one_or_none()
    return _record(row) if row is not None else None


async def mark_ready(uow: UnitOfWork, file_id: UUID, now: datetime) -> FileRecord | None:
    """pending -> ready; None when the row is gone or no longer pending."""
    row = (
        await uow.connection.execute(
            update(files)
            .where(files.c.id == file_id, files.c.status == "pending")
            .values(status="ready", updated_at=now, uploaded_at=now)
            .returning(files)
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def mark_rejected(uow: UnitOfWork, file_id: UUID, now: datetime) -> FileRecord | None:
    """pending -> rejected; the row stays until the sweeper removes it with any late object."""
    row = (
        await uow.connection.execute(
            update(files)
            .where(files.c.id == file_id, files.c.status == "pending")
            .values(status="rejected", updated_at=now)
            .returning(files)
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def delete_file(
    uow: UnitOfWork, file_id: UUID, *, unfinished_before: datetime | None = None
) -> FileRecord | None:
    """Delete a visible row or, for the sweeper (``unfinished_before`` given), an
    unfinished one (pending or rejected) created before that time."""
    statement = delete(files).where(files.c.id == file_id)
    if unfinished_before is not None:
        statement = statement.where(
            files.c.status != "ready", files.c.created_at < unfinished_before
        )
    else:
        statement = statement.where(_VISIBLE)
    row = (await uow.connection.execute(statement.returning(files))).one_or_none()
    return _record(row) if row is not None else None


async def page(
    uow: UnitOfWork, *, limit: int, after: tuple[datetime, UUID] | None
) -> list[FileRecord]:
    """Newest first; ``after`` is the (created_at, id) of the previous page's last item."""
    query = (
        select(files)
        .where(_VISIBLE)
        .order_by(files.c.created_at.desc(), files.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(files.c.created_at, files.c.id) < tuple_(*after))
    rows = (await uow.connection.execute(query)).all()
    return [_record(row) for row in rows]


async def expired_uploads(uow: UnitOfWork, cutoff: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """(tenant_id, id) of unfinished uploads created before ``cutoff``, across tenants."""
    rows = (await uow.connection.execute(_EXPIRED, {"cutoff": cutoff, "limit": limit})).all()
    return [(row.tenant_id, row.id) for row in rows]
