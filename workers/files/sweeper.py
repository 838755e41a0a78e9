"""The background task that removes uploads never completed (PENDING_UPLOAD_TTL)."""

import asyncio
import contextlib
import logging

from workers.files.service import FileService

log = logging.getLogger("idp.files")


class UploadSweeper:
    def __init__(self, service: FileService, interval: float) -> None:
        self._service = service
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="files-upload-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self._service.sweep_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round retries; nothing is lost meanwhile
                log.warning("upload sweep failed; will retry", extra={"error": repr(exc)[:300]})
            await asyncio.sleep(self._interval)
