"""Helpers for the files tests: declare, upload to the presigned URL, complete."""

from typing import Any

import aiohttp

from tests.e2e.conftest import bearer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def declare(
    http: aiohttp.ClientSession,
    token: str,
    *,
    filename: str = "picture.png",
    content_type: str = "image/png",
    size: int = len(PNG),
) -> aiohttp.ClientResponse:
    body = {"filename": filename, "content_type": content_type, "size": size}
    return await http.post("/v1/files", json=body, headers=bearer(token))


async def declared(http: aiohttp.ClientSession, token: str, **kw: Any) -> dict[str, Any]:
    async with await declare(http, token, **kw) as response:
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
    return created


async def put_bytes(
    upload: dict[str, Any], data: bytes, extra_headers: dict[str, str] | None = None
) -> None:
    """PUT to the presigned URL with the headers it was signed for (and any
    ``extra_headers`` an uploader adds), straight to S3."""
    headers = {"Content-Type": upload["headers"]["Content-Type"], **(extra_headers or {})}
    async with (
        aiohttp.ClientSession() as s3,
        s3.request(upload["method"], upload["url"], data=data, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


async def complete(http: aiohttp.ClientSession, token: str, file_id: str) -> aiohttp.ClientResponse:
    return await http.post(f"/v1/files/{file_id}/complete", headers=bearer(token))


async def uploaded(
    http: aiohttp.ClientSession, token: str, data: bytes = PNG, **kw: Any
) -> dict[str, Any]:
    """A ready file: declared, uploaded and completed."""
    created = await declared(http, token, size=len(data), **kw)
    await put_bytes(created["upload"], data)
    async with await complete(http, token, created["file"]["id"]) as response:
        assert response.status == 200, await response.text()
        ready: dict[str, Any] = await response.json()
    return ready
