"""The S3 bucket the files live in: one client for the worker's lifetime (aioboto3).

Presigned URLs are signed for ``S3_PUBLIC_ENDPOINT_URL`` when it is set (the host is
part of the signature), so clients outside the compose network can use them; the
worker itself talks to ``S3_ENDPOINT_URL``. Signing is local: the second client never
opens a connection.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from idp.preflight import redact
from idp.settings import Settings
from workers.errors import Unavailable
from workers.uow import must_commit

log = logging.getLogger("idp.files")
NOT_CONFIGURED = (
    "file storage is not configured on this deployment (set S3_ENDPOINT_URL); "
    "`idp dev` starts a local S3 server by itself"
)
UNREACHABLE = "file storage is unavailable; retry later"
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


# Where clients PUT (the presigned URL's key); a checked upload is copied to its file's
# key, which no URL lets anyone write, and the staged object is removed.
UPLOADS_PREFIX = "uploads/"


# Response headers S3 keeps from an upload's PUT and sends with every GET: a presigned
# PUT signs only the type and length, so the uploader may set any of these (a year-long
# public Cache-Control, a Content-Encoding no client can undo). The file's copy keeps none.
_UPLOADER_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "ExpiresString",
    "WebsiteRedirectLocation",
    "Metadata",
)
# Every download: a private, short-lived URL is no one's to cache.
DOWNLOAD_CACHE_CONTROL = "private, no-store"


@dataclass(frozen=True, slots=True)
class StoredObject:
    size: int
    content_type: str | None
    # The uploader set headers beyond the type (_UPLOADER_HEADERS).
    carries_headers: bool = False


class ObjectMissing(Exception):
    """The object is not there (never uploaded, or removed meanwhile)."""


def object_key(tenant_id: object, file_id: object) -> str:
    """Keys are made from ids only; a user's filename never reaches a key."""
    return f"tenants/{tenant_id}/files/{file_id}"


def upload_key(tenant_id: object, file_id: object) -> str:
    """Where the upload URL lets a client PUT the file's bytes until it is completed."""
    return f"{UPLOADS_PREFIX}{tenant_id}/{file_id}"


def content_disposition(filename: str) -> str:
    """RFC 6266 ``attachment`` with an ASCII fallback and the exact name in ``filename*``."""
    # Path separators never reach a client that might honour them; quotes and
    # backslashes would need escaping in the quoted fallback, so they become "_" there.
    safe = filename.replace("/", "_").replace("\\", "_")
    # "%" too: some user agents percent-decode the fallback (RFC 6266, appendix D).
    fallback = (
        "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in safe).strip()
        or "file"
    )
    encoded = quote(safe, safe="!#$&+-.^_`|~", encoding="utf-8")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in _MISSING


class FileStorage:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._signer: Any = None
        self._bucket_ready = False
        self._bucket_lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._settings.s3_endpoint_url)

    @property
    def bucket(self) -> str:
        return self._settings.s3_bucket

    async def open(self) -> None:
        """Open the clients and create the bucket if missing (retried on use if S3 is down)."""
        settings = self._settings
        if not settings.s3_endpoint_url:
            log.warning("S3_ENDPOINT_URL is unset: files actions will answer 503")
            return
        session = aioboto3.Session()
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        credentials = {
            "region_name": settings.s3_region,
            "aws_access_key_id": settings.s3_access_key_id,
            "aws_secret_access_key": settings.s3_secret_access_key.get_secret_value(),
            "config": config,
        }
        self._client = await self._stack.enter_async_context(
            session.client("s3", endpoint_url=settings.s3_endpoint_url, **credentials)
        )
        self._signer = self._client
        if settings.s3_public_endpoint_url:
            self._signer = await self._stack.enter_async_context(
                session.client("s3", endpoint_url=settings.s3_public_endpoint_url, **credentials)
            )
        try:
            await self._ensure_bucket()
        except Unavailable:
            log.warning(
                "S3 is not reachable yet; files actions retry it",
                extra={"url": redact(settings.s3_endpoint_url)},
            )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = self._signer = None

    async def _ready_client(self) -> Any:
        if self._client is None:
            raise Unavailable(NOT_CONFIGURED)
        if not self._bucket_ready:
            await self._ensure_bucket()
        return self._client

    async def _ensure_bucket(self) -> None:
        async with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                try:
                    await self._client.head_bucket(Bucket=self.bucket)
                except ClientError as exc:
                    if not _is_missing(exc):
                        raise
                    await self._client.create_bucket(Bucket=self.bucket)
                    log.info("bucket created", extra={"bucket": self.bucket})
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise Unavailable(UNREACHABLE) from exc
            except BotoCoreError as exc:
                raise Unavailable(UNREACHABLE) from exc
            self._bucket_ready = True

    @contextlib.contextmanager
    def _s3_errors(self, key: str) -> Iterator[None]:
        """S3's answers as the platform's: ``ObjectMissing`` when ``key`` is not there, and
        ``Unavailable`` (503) for anything else, a missing bucket included: the bucket
        is made again on the next call, and no upload is taken for missing meanwhile
        (which would reject, and delete, a file S3 lost track of)."""
        try:
            yield
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) == "NoSuchBucket":
                self._bucket_ready = False
                raise Unavailable(UNREACHABLE) from exc
            if _is_missing(exc):
                raise ObjectMissing(key) from exc
            raise Unavailable(UNREACHABLE) from exc
        except BotoCoreError as exc:
            raise Unavailable(UNREACHABLE) from exc

    async def presign_put(self, key: str, content_type: str, size: int, expires_in: int) -> str:
        """A PUT URL whose signature covers the content type and length."""
        await self._ready_client()
        url: str = await self._signer.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
        )
        return url

    async def presign_get(self, key: str, filename: str, content_type: str, expires_in: int) -> str:
        await self._ready_client()
        url: str = await self._signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(filename),
                "ResponseContentType": content_type,
                "ResponseCacheControl": DOWNLOAD_CACHE_CONTROL,
            },
            ExpiresIn=expires_in,
        )
        return url

    async def head(self, key: str) -> StoredObject | None:
        client = await self._ready_client()
        try:
            with self._s3_errors(key):
                found = await client.head_object(Bucket=self.bucket, Key=key)
        except ObjectMissing:
            return None
        return StoredObject(
            size=int(found["ContentLength"]),
            content_type=found.get("ContentType"),
            carries_headers=any(found.get(name) for name in _UPLOADER_HEADERS),
        )

    async def read_start(self, key: str, length: int) -> bytes:
        """The object's first ``length`` bytes (fewer if it is shorter), by a ranged GET."""
        client = await self._ready_client()
        try:
            with self._s3_errors(key):
                found = await client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}"
                )
                async with found["Body"] as body:
                    data: bytes = await body.read()
        except ObjectMissing:
            return b""
        return data[:length]

    async def copy(self, source: str, target: str) -> None:
        """Copy an object within the bucket (server side, its content type included);
        ``ObjectMissing`` when there is no source."""
        client = await self._ready_client()
        must_commit()  # an object written: the message's transaction must follow
        with self._s3_errors(source):
            await client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )

    async def keep_only_type(self, key: str, content_type: str) -> None:
        """Rewrite the object's stored headers in place (a server-side copy onto itself,
        the bytes unchanged): ``content_type`` and nothing else."""
        client = await self._ready_client()
        must_commit()
        with self._s3_errors(key):
            await client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                ContentType=content_type,
            )

    async def delete_stale(self, prefix: str, before: datetime) -> int:
        """Remove every object under ``prefix`` last written before ``before``."""
        client = await self._ready_client()
        removed = 0
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            async for page in pages:
                stale = [
                    {"Key": item["Key"]}
                    for item in page.get("Contents", [])
                    if item["LastModified"] < before
                ]
                if stale:
                    await client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": stale, "Quiet": True}
                    )
                    removed += len(stale)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(UNREACHABLE) from exc
        return removed

    async def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        client = await self._ready_client()
        must_commit()  # no rollback brings the object back
        with contextlib.suppress(ObjectMissing), self._s3_errors(key):
            await client.delete_object(Bucket=self.bucket, Key=key)
