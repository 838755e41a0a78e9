"""Message entry points of the files family."""

from contracts import files as actions
from contracts.files import (
    CreatedFile,
    CreateFileRequest,
    File,
    FileDetail,
    FileIdRequest,
    FilePage,
    ListFilesRequest,
)
from workers.context import Call
from workers.routing import FamilyRouter
from workers.runtime import Runtime

router = FamilyRouter("files")


@router.handles(actions.FILES_CREATE)
async def create(request: CreateFileRequest, call: Call, runtime: Runtime) -> CreatedFile:
    """Declare a file; returns a presigned PUT for its bytes."""
    return await runtime.files.create(request, call)


@router.handles(actions.FILES_COMPLETE)
async def complete(request: FileIdRequest, call: Call, runtime: Runtime) -> File:
    """Verify the uploaded object and mark the file ready."""
    return await runtime.files.complete(request.id, call)


@router.handles(actions.FILES_LIST)
async def list_files(request: ListFilesRequest, call: Call, runtime: Runtime) -> FilePage:
    """The tenant's files, newest first."""
    return await runtime.files.page(request, call)


@router.handles(actions.FILES_GET)
async def get(request: FileIdRequest, call: Call, runtime: Runtime) -> FileDetail:
    """One file, with a download URL once ready."""
    return await runtime.files.get(request.id, call)


@router.handles(actions.FILES_DELETE)
async def delete(request: FileIdRequest, call: Call, runtime: Runtime) -> None:
    """Delete a file's object and row."""
    await runtime.files.delete(request.id, call)
