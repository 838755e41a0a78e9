"""The files family: presigned uploads and downloads on S3 (SPEC 4.3)."""

from datetime import datetime
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from contracts.actions import action
from contracts.base import Request, View, readable
from contracts.paging import DEFAULT_LIMIT, PageLimit, ResourceId

# Content types whose leading bytes the files worker can verify on completion; the
# configured allow-list (FILE_CONTENT_TYPES) is a subset of these.
VERIFIABLE_CONTENT_TYPES: Final[tuple[str, ...]] = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)

FileStatus = Literal["pending", "ready", "rejected"]


def _plain_filename(value: str) -> str:
    """Any name that reads as it is (contracts.base.readable) and is not only dots: it
    is metadata only, never part of an object key or a path."""
    return readable(value, also_blank=".")


Filename = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_plain_filename),
]


def _media_type(value: object) -> object:
    """``Image/PNG`` or ``text/plain; charset=utf-8`` name the type ``image/png`` or
    ``text/plain``: case and parameters go (RFC 9110 8.3.1); the pattern checks the rest."""
    if isinstance(value, str):
        return value.split(";", 1)[0].strip().lower()
    return value


ContentType = Annotated[
    str,
    BeforeValidator(_media_type),
    StringConstraints(
        max_length=127, pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$"
    ),
]
# A path id is any string: one that is not a UUID is simply not found (404), never a 400.
FileId = ResourceId  # 404 for anything that is no UUID, whatever its length


class File(View):
    id: UUID
    tenant_id: UUID
    filename: str
    content_type: str
    size: int
    status: FileStatus
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    uploaded_at: datetime | None


class FileDetail(File):
    """One file; ``download_url`` is a short-lived presigned GET, set once the file is ready."""

    download_url: str | None = None
    download_expires_in: int | None = None


class Upload(View):
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_in: int


class CreateFileRequest(Request):
    filename: Filename
    content_type: ContentType
    # A JSON number only: "10" or true is a wrong type (400), not a size (SPEC 7).
    size: int = Field(ge=1, strict=True)


class CreatedFile(View):
    file: File
    upload: Upload


class FileIdRequest(Request):
    id: FileId


class ListFilesRequest(Request):
    limit: PageLimit = DEFAULT_LIMIT
    cursor: Annotated[str, Field(max_length=512)] | None = None


class FilePage(View):
    items: list[File]
    next_cursor: str | None


FILES_CREATE = action(
    "files.create",
    CreateFileRequest,
    CreatedFile,
    authenticated=True,
    permission="files:write",
    summary="Declare a file and get a presigned PUT for its bytes",
)
FILES_COMPLETE = action(
    "files.complete",
    FileIdRequest,
    File,
    authenticated=True,
    permission="files:write",
    summary="Verify an uploaded object (size, type) and mark the file ready",
)
FILES_LIST = action(
    "files.list",
    ListFilesRequest,
    FilePage,
    authenticated=True,
    permission="files:read",
    summary="The tenant's files, newest first (keyset pagination)",
    read_only=True,
)
FILES_GET = action(
    "files.get",
    FileIdRequest,
    FileDetail,
    authenticated=True,
    permission="files:read",
    summary="One file, with a presigned download URL once it is ready",
    read_only=True,
)
FILES_DELETE = action(
    "files.delete",
    FileIdRequest,
    None,
    authenticated=True,
    permission="files:delete",
    summary="Delete a file: its object and its row",
)
