"""Files: declare, upload (presigned PUT), verify, download (presigned GET), delete.

The bytes never cross the broker or the edge: clients PUT and GET them on S3 with URLs
the worker signs. A file is ``pending`` until ``complete`` has checked the uploaded
object's size, type and leading bytes; then it is ``ready``. The upload URL writes a
staging key (``uploads/...``); complete copies it to the file's own key, which no URL
can write, and checks that copy: the upload URL, valid for its whole lifetime, cannot
change a file after its check, nor leave an object behind a deleted one for longer than
the sweep. A failed check deletes the upload and marks the row ``rejected``; the sweeper
removes unfinished rows, and staged objects older than ``PENDING_UPLOAD_TTL``.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import FieldError
from contracts.files import (
    CreatedFile,
    CreateFileRequest,
    File,
    FileDetail,
    FilePage,
    ListFilesRequest,
    Upload,
)
from idp.settings import Settings
from workers.context import Call
from workers.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
)
from workers.files import repository as files
from workers.files.signatures import SNIFF_BYTES, matches
from workers.files.storage import (
    NOT_CONFIGURED,
    UPLOADS_PREFIX,
    FileStorage,
    ObjectMissing,
    object_key,
    upload_key,
)
from workers.ids import parse_id
from workers.journal import audit, emit
from workers.pagination import decode_cursor, encode_cursor
from workers.uow import Database
from workers.users.repository import hold_user

log = logging.getLogger("idp.files")
SWEEP_BATCH = 200
SWEEP_BATCHES_PER_RUN = 100


class FileService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        storage: FileStorage,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._db = db
        self._storage = storage
        self._clock = clock

    @property
    def storage(self) -> FileStorage:
        return self._storage

    @property
    def _upload_url_ttl(self) -> int:
        """How long an upload URL can write: a file's declared size stays reserved that
        long even once the file is rejected or deleted, as the URL cannot be taken back."""
        return min(self._settings.file_upload_url_ttl, self._settings.pending_upload_ttl)

    def _require_storage(self) -> None:
        if not self._storage.configured:
            raise Unavailable(NOT_CONFIGURED)

    async def create(self, request: CreateFileRequest, call: Call) -> CreatedFile:
        """Record a pending file and sign a PUT bound to its declared type and size."""
        settings = self._settings
        if request.content_type not in settings.file_content_types:
            allowed = ", ".join(settings.file_content_types)
            raise InvalidRequest(
                f"content type {request.content_type} is not allowed; allowed: {allowed}",
                details=[FieldError(field="content_type", message=f"one of: {allowed}")],
            )
        if request.size > settings.max_file_bytes:
            raise PayloadTooLarge(f"a file may be at most {settings.max_file_bytes} bytes")
        self._require_storage()
        tenant_id, file_id, now = call.tenant_id, uuid.uuid4(), self._clock()
        key = object_key(tenant_id, file_id)
        expires_in = self._upload_url_ttl
        # Signed first: signing is local, but the first one checks (and makes) the bucket,
        # so a storage that cannot serve records nothing then. S3 going away later is met
        # at the upload and at complete (503); an unused pending row is swept.
        url = await self._storage.presign_put(
            upload_key(tenant_id, file_id), request.content_type, request.size, expires_in
        )
        async with self._db.transaction(tenant_id) as uow:
            if not await hold_user(uow, call.caller.sub):  # deleted while this ran
                raise Unauthenticated("account no longer exists")
            await files.lock_quota(uow, tenant_id)
            used = await files.usage(uow, now - timedelta(seconds=self._upload_url_ttl))
            if used.count + 1 > settings.file_quota_count:
                raise Conflict(
                    f"the tenant's file quota ({settings.file_quota_count} files) is full"
                )
            if used.bytes + request.size > settings.file_quota_bytes:
                raise Conflict(
                    f"the tenant's storage quota ({settings.file_quota_bytes} bytes) would be "
                    f"exceeded ({used.bytes} bytes in use or reserved by upload URLs still"
                    " valid)"
                )
            record = await files.insert_file(
                uow,
                file_id=file_id,
                tenant_id=tenant_id,
                object_key=key,
                filename=request.filename,
                content_type=request.content_type,
                size=request.size,
                created_by=call.caller.sub,
                now=now,
            )
        headers = {"Content-Type": request.content_type, "Content-Length": str(request.size)}
        return CreatedFile(
            file=record.view, upload=Upload(url=url, headers=headers, expires_in=expires_in)
        )

    async def complete(self, file_id_text: str, call: Call) -> File:
        """Verify the upload; ready (with event and audit) or rejected (400).

        The staged upload is first copied to the file's own key, which no URL can write,
        and the checks read that copy: the bytes checked are the bytes served, whatever
        the upload URL writes meanwhile. The file's row stays locked throughout, so two
        completes (or a complete and a delete) of one file take turns."""
        self._require_storage()
        file_id, tenant_id = parse_id(file_id_text, "file"), call.tenant_id
        staged = upload_key(tenant_id, file_id)
        problem: str | None = None
        view: File | None = None
        data: dict[str, Any]
        async with self._db.transaction(tenant_id) as uow:
            record = await files.file_by_id(uow, file_id, lock=True)
            if record is None:
                raise NotFound("file not found")
            if record.view.created_by != call.caller.sub:
                # A failed check deletes the file: only its uploader may set that off, not
                # any holder of files:write (deleting needs files:delete).
                raise Forbidden("only the user who declared an upload completes it")
            if record.view.status == "ready":
                return record.view  # completing twice is harmless
            problem = await self._copied_and_checked(record, staged)
            now = self._clock()
            if problem is not None:
                await files.mark_rejected(uow, file_id, now)
                await self._storage.delete(record.object_key)
                await self._storage.delete(staged)
                action, data = "file.rejected", {"reason": problem}
            else:
                ready = await files.mark_ready(uow, file_id, now)
                assert ready is not None  # pending, under this transaction's lock
                view = ready.view
                action, data = "file.uploaded", {"filename": view.filename, "size": view.size}
                emit(
                    uow,
                    tenant_id=tenant_id,
                    event_type="file.uploaded",
                    data={"file": view.model_dump(mode="json")},
                )
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action=action,
                actor_id=call.caller.sub,
                target_type="file",
                target_id=file_id,
                data=data,
            )
        if problem is not None:
            raise InvalidRequest(
                f"upload rejected: {problem}; the file was deleted", keeps_changes=True
            )
        await self._storage.delete(staged)  # left behind on a failure here: swept later
        assert view is not None
        return view

    async def _copied_and_checked(self, record: files.FileRecord, staged: str) -> str | None:
        """Copy the staged upload to the file's key and check that copy; what is wrong
        with it, or None."""
        declared = record.view
        try:
            await self._storage.copy(staged, record.object_key)
            stored = await self._storage.head(record.object_key)
        except ObjectMissing:
            stored = None
        if stored is None:
            # SPEC 4.3: the object must exist, or the file is rejected like a bad upload.
            return "nothing was uploaded for this file"
        if stored.size != declared.size:
            return f"{stored.size} bytes were uploaded but {declared.size} were declared"
        if stored.content_type is not None and stored.content_type.lower() != declared.content_type:
            return f"stored as {stored.content_type}, declared as {declared.content_type}"
        head = await self._storage.read_start(record.object_key, SNIFF_BYTES)
        if not matches(declared.content_type, head, whole=stored.size <= SNIFF_BYTES):
            return f"the content is not {declared.content_type}"
        if stored.carries_headers:
            # Served with what the PUT set (Cache-Control, Content-Encoding, ...) otherwise:
            # the file keeps its declared type alone.
            await self._storage.keep_only_type(record.object_key, declared.content_type)
        return None

    async def get(self, file_id_text: str, call: Call) -> FileDetail:
        """One file; a ready one carries a short-lived download URL."""
        self._require_storage()
        file_id = parse_id(file_id_text, "file")
        async with self._db.transaction(call.tenant_id) as uow:
            record = await files.file_by_id(uow, file_id)
        if record is None:
            raise NotFound("file not found")
        view = record.view
        if view.status != "ready":
            return FileDetail(**view.model_dump())
        ttl = self._settings.file_download_url_ttl
        url = await self._storage.presign_get(
            record.object_key, view.filename, view.content_type, ttl
        )
        return FileDetail(**view.model_dump(), download_url=url, download_expires_in=ttl)

    async def page(self, request: ListFilesRequest, call: Call) -> FilePage:
        """The tenant's files, newest first."""
        self._require_storage()
        after = decode_cursor(request.cursor) if request.cursor else None
        async with self._db.transaction(call.tenant_id) as uow:
            records = await files.page(uow, limit=request.limit + 1, after=after)
        items = [r.view for r in records[: request.limit]]
        more = len(records) > request.limit
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more else None
        return FilePage(items=items, next_cursor=next_cursor)

    async def delete(self, file_id_text: str, call: Call) -> None:
        """Remove the object, then the row (the row stays if S3 refuses). A pending file
        whose upload URL can still write is only hidden, marked rejected: its declared
        size stays reserved until the URL expires, and the sweeper removes it."""
        self._require_storage()
        file_id, tenant_id = parse_id(file_id_text, "file"), call.tenant_id
        now = self._clock()
        async with self._db.transaction(tenant_id) as uow:
            record = await files.file_by_id(uow, file_id, lock=True)
            if record is None:
                raise NotFound("file not found")
            writable = record.view.created_at > now - timedelta(seconds=self._upload_url_ttl)
            if record.view.status == "pending" and writable:
                await files.mark_rejected(uow, file_id, now)
            else:
                await files.delete_file(uow, file_id)
            # Inside the transaction: if S3 fails, the row is kept and a retry is safe.
            await self._storage.delete(record.object_key)
            await self._storage.delete(upload_key(tenant_id, file_id))
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action="file.deleted",
                actor_id=call.caller.sub,
                target_type="file",
                target_id=file_id,
                data={"filename": record.view.filename},
            )
            emit(
                uow,
                tenant_id=tenant_id,
                event_type="file.deleted",
                data={"file": record.view.model_dump(mode="json")},
            )

    async def sweep_expired(self, now: datetime | None = None) -> int:
        """Delete unfinished uploads older than PENDING_UPLOAD_TTL, object and row."""
        cutoff = (now or self._clock()) - timedelta(seconds=self._settings.pending_upload_ttl)
        removed = 0
        # Batch after batch until the backlog is gone: one batch per interval fell behind
        # anything above 3.3 abandoned uploads a second (a soak audit's 58/s of rejected
        # ones grew the table without bound). Bounded per run, so one run ends.
        for _ in range(SWEEP_BATCHES_PER_RUN):
            async with self._db.transaction() as uow:
                expired = await files.expired_uploads(uow, cutoff, SWEEP_BATCH)
            for tenant_id, file_id in expired:
                async with self._db.transaction(tenant_id) as uow:
                    record = await files.delete_file(uow, file_id, unfinished_before=cutoff)
                    if record is not None:
                        await self._storage.delete(upload_key(tenant_id, file_id))
                        await self._storage.delete(record.object_key)
                        removed += 1
            if len(expired) < SWEEP_BATCH:
                break
        if removed:
            log.info("expired uploads removed", extra={"count": removed})
        # A staged upload is needed until its file is completed, which is within the TTL
        # or never: older ones are what late PUTs left (to a rejected, deleted or
        # completed file's URL).
        if self._storage.configured:
            stale = await self._storage.delete_stale(UPLOADS_PREFIX, cutoff)
            if stale:
                log.info("stale staged uploads removed", extra={"count": stale})
        return removed
