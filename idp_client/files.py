"""The file routes: presigned uploads, their completion, listing and deletion."""

from contracts.files import CreatedFile, File, FileDetail
from idp_client.models import Page
from idp_client.routes import Id, Routes, seg


class FileRoutes(Routes):
    """The file routes of ``AsyncIdpClient``."""

    # --- files ------------------------------------------------------------------------

    async def create_file(
        self,
        *,
        filename: str,
        content_type: str,
        size: int,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> CreatedFile:
        """``POST /v1/files``: the ``pending`` file and the presigned ``upload`` of its bytes."""
        body = await self._t.call(
            "POST",
            "/v1/files",
            json={"filename": filename, "content_type": content_type, "size": size},
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return CreatedFile.model_validate(body)

    async def complete_file(
        self,
        file_id: Id,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> File:
        """``POST /v1/files/{id}/complete``: checks the upload and marks the file ``ready``."""
        body = await self._t.call(
            "POST",
            f"/v1/files/{seg(file_id)}/complete",
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return File.model_validate(body)

    async def list_files(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        request_id: str | None = None,
    ) -> Page[File]:
        """``GET /v1/files``."""
        body = await self._t.call(
            "GET", "/v1/files", query={"limit": limit, "cursor": cursor}, request_id=request_id
        )
        return Page[File].model_validate(body)

    async def get_file(self, file_id: Id, *, request_id: str | None = None) -> FileDetail:
        """``GET /v1/files/{id}``, with a presigned ``download_url`` once it is ready."""
        body = await self._t.call("GET", f"/v1/files/{seg(file_id)}", request_id=request_id)
        return FileDetail.model_validate(body)

    async def delete_file(self, file_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/files/{id}``."""
        await self._t.call("DELETE", f"/v1/files/{seg(file_id)}", request_id=request_id)
